// `pubkeys.json`: what a peer hands the administrator to be enrolled. Public keys only, with a proof that
// whoever made the file holds the signing private key (a signature over the file's fields).
import { SecurityError } from '../errors/security-error';
import { canonicalJson } from './canonical';
import { NAME_PATTERN } from './enrolment';
import { assertKeyType, keyFingerprint, KEY_SUITES, type KeySuite, type PeerKeys } from './keys';
import { signBytes, verifyBytes } from './sign';

export interface PublicKeysFile {
  v: 1;
  peer: string;
  suite: KeySuite;
  signingKey: string;
  encryptionKey: string;
  /** Fingerprint of the signing key, for a person to compare out of band. */
  fingerprint: string;
  /** Base64 signature by the signing key over the other fields (proof of possession). */
  proof: string;
}

function proofInput(f: Pick<PublicKeysFile, 'v' | 'peer' | 'suite' | 'signingKey' | 'encryptionKey'>): Buffer {
  const { v, peer, suite, signingKey, encryptionKey } = f;
  return Buffer.from(canonicalJson(['spirt-pubkeys-v1', { v, peer, suite, signingKey, encryptionKey }]), 'utf8');
}

/** The public half of a peer's keys, signed by its signing key. */
export function publicKeysFile(peer: string, keys: PeerKeys): PublicKeysFile {
  if (!NAME_PATTERN.test(peer)) throw new SecurityError('malformed', `peer id ${JSON.stringify(peer)} is not valid`);
  const fields = {
    v: 1 as const,
    peer,
    suite: keys.suite,
    signingKey: keys.signing.publicKey,
    encryptionKey: keys.encryption.publicKey,
  };
  return {
    ...fields,
    fingerprint: keyFingerprint(fields.signingKey),
    proof: signBytes(keys.signing.privateKey, proofInput(fields)),
  };
}

/**
 * Checks a parsed `pubkeys.json`: shape, key types for its suite, and the proof of possession.
 * @throws SecurityError('malformed' | 'bad-signature')
 */
export function checkPublicKeysFile(value: unknown): PublicKeysFile {
  const f = value as Partial<PublicKeysFile> | null;
  if (!f || typeof f !== 'object' || f.v !== 1)
    throw new SecurityError('malformed', 'not a spirt pubkeys file (v must be 1)');
  if (typeof f.peer !== 'string' || !NAME_PATTERN.test(f.peer))
    throw new SecurityError('malformed', 'pubkeys file: peer id is not valid');
  if (!KEY_SUITES.includes(f.suite as KeySuite))
    throw new SecurityError('malformed', 'pubkeys file: suite is not modern or rsa');
  if (typeof f.signingKey !== 'string' || typeof f.encryptionKey !== 'string' || typeof f.proof !== 'string') {
    throw new SecurityError('malformed', 'pubkeys file: signingKey, encryptionKey or proof is missing');
  }
  assertKeyType(f.signingKey, f.suite as KeySuite, 'signing');
  assertKeyType(f.encryptionKey, f.suite as KeySuite, 'encryption');
  if (!verifyBytes(f.signingKey, proofInput(f as PublicKeysFile), f.proof)) {
    throw new SecurityError(
      'bad-signature',
      `pubkeys file of ${f.peer}: the proof does not verify with its signing key (edited?)`,
    );
  }
  return { ...(f as PublicKeysFile), fingerprint: keyFingerprint(f.signingKey) };
}
