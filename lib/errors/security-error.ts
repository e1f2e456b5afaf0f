/** Why a security check failed; callers branch on this, operators read the message. */
export type SecurityReason =
  // signed envelopes and enrolment tokens
  | 'bad-signature'
  | 'wrong-recipient'
  | 'wrong-network'
  | 'wrong-type'
  | 'stale'
  | 'replayed'
  | 'replay-capacity'
  | 'payload-hash'
  | 'malformed'
  | 'other-admin'
  | 'expired'
  | 'not-yet-valid'
  | 'revoked'
  // a peer's offered database credential does not work
  | 'bad-credential'
  // keys, sealed boxes and KMS
  | 'wrong-key'
  | 'decrypt-failed'
  | 'key-file'
  | 'kms-denied'
  | 'kms-key'
  | 'kms-unavailable'
  | 'kms-error';

/**
 * A signature, token, sealed box, key file or KMS operation failed a security check. `reason` is a stable
 * code; the message says which check failed and why, and never carries key material or plaintext.
 */
export class SecurityError extends Error {
  override name = 'SecurityError';
  constructor(
    readonly reason: SecurityReason,
    message: string,
  ) {
    super(message);
  }
}
