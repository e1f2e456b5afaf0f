// Enrolment tokens: the administrator's signed statement that a peer id owns two public keys in one network
// until an expiry. Peers trust a newcomer only through a token that verifies against the administrator key.
import { createPublicKey } from 'node:crypto';
import { SecurityError } from '../errors/security-error';
import { canonicalJson } from './canonical';
import { assertKeyType, keyFingerprint, KEY_SUITES, type KeySuite } from './keys';
import { signBytes, verifyBytes } from './sign';

export interface EnrolmentToken {
  v: 1;
  network: string;
  peer: string;
  suite: KeySuite;
  /** The peer's signing public key (PEM). */
  signingKey: string;
  /** The peer's encryption public key (PEM). */
  encryptionKey: string;
  /** ISO 8601, UTC. */
  issuedAt: string;
  /** ISO 8601, UTC. */
  expiresAt: string;
  /** Fingerprint of the administrator public key that signed it (see keyFingerprint). */
  admin: string;
  /** Base64 Ed25519 signature over {@link enrolmentSigningInput}. */
  sig: string;
}

/** What the administrator vouches for. */
export interface EnrolmentFields {
  network: string;
  peer: string;
  suite: KeySuite;
  signingKey: string;
  encryptionKey: string;
  expiresAt: Date;
  /** @default now */
  issuedAt?: Date;
}

/** A revocation check: a set of revoked peer ids, or a predicate (see revocationCheck in ./revocation). */
export type RevokedPeers = ReadonlySet<string> | ((peer: string, token: EnrolmentToken) => boolean);

export interface VerifyEnrolmentOptions {
  /** The administrator public key (PEM) this peer trusts. */
  adminPublicKey: string;
  /** The network this peer belongs to. */
  network: string;
  /** A Date or ms since the epoch. @default now */
  now?: Date | number;
  /** @default none revoked */
  revoked?: RevokedPeers;
  /** Tolerance for an `issuedAt` slightly ahead of this peer's clock. @default 60000 */
  clockSkewMs?: number;
}

export const ENROLMENT_DOMAIN = 'spirt-enrolment-v1';

/** Peer ids and network names: letters, digits, `.`, `_`, `-`, at most 64 characters. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const MAX_TOKEN_CHARS = 16_384;

/** The bytes a token's signature covers: canonical JSON of the domain tag and every field but `sig`. */
export function enrolmentSigningInput(token: Omit<EnrolmentToken, 'sig'>): Buffer {
  const { v, network, peer, suite, signingKey, encryptionKey, issuedAt, expiresAt, admin } = token;
  return Buffer.from(
    canonicalJson([
      ENROLMENT_DOMAIN,
      { v, network, peer, suite, signingKey, encryptionKey, issuedAt, expiresAt, admin },
    ]),
    'utf8',
  );
}

/**
 * Issues an enrolment token signed with the administrator's Ed25519 private key (PEM).
 * @returns the token as one pasteable string (base64url of its JSON; {@link parseEnrolment} reads it)
 * @throws SecurityError('malformed') for a bad name, key or time range
 */
export function issueEnrolment(adminPrivateKeyPem: string, fields: EnrolmentFields): string {
  const issuedAt = fields.issuedAt ?? new Date();
  const unsigned: Omit<EnrolmentToken, 'sig'> = {
    v: 1,
    network: fields.network,
    peer: fields.peer,
    suite: fields.suite,
    signingKey: fields.signingKey,
    encryptionKey: fields.encryptionKey,
    issuedAt: issuedAt.toISOString(),
    expiresAt: fields.expiresAt.toISOString(),
    admin: adminFingerprintOf(adminPrivateKeyPem),
  };
  checkFields(unsigned);
  return encodeEnrolment({ ...unsigned, sig: signBytes(adminPrivateKeyPem, enrolmentSigningInput(unsigned)) });
}

/** The token as one pasteable string: base64url of its JSON. */
export function encodeEnrolment(token: EnrolmentToken): string {
  return Buffer.from(JSON.stringify(token), 'utf8').toString('base64url');
}

/**
 * Decodes a token string (as printed by `spirt admin enrol`) and checks its shape, names, keys and times.
 * It does not check the signature: use {@link verifyEnrolment}.
 * @throws SecurityError('malformed')
 */
export function parseEnrolment(text: string): EnrolmentToken {
  const trimmed = typeof text === 'string' ? text.trim() : '';
  if (trimmed.length === 0 || trimmed.length > MAX_TOKEN_CHARS || !/^[A-Za-z0-9_-]+$/.test(trimmed)) {
    throw new SecurityError('malformed', 'enrolment token is not a base64url string (paste it whole, as printed)');
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(trimmed, 'base64url').toString('utf8'));
  } catch {
    throw new SecurityError('malformed', 'enrolment token does not decode to JSON (cut short?)');
  }
  return asToken(value);
}

/**
 * Verifies a token (object or string) for this peer: the administrator it names is the trusted one, the
 * signature verifies, the network is ours, the peer is not revoked, and now is within [issuedAt, expiresAt).
 * @returns the token
 * @throws SecurityError with reason 'malformed' | 'other-admin' | 'bad-signature' | 'wrong-network' |
 * 'revoked' | 'not-yet-valid' | 'expired'
 */
export function verifyEnrolment(token: EnrolmentToken | string, opts: VerifyEnrolmentOptions): EnrolmentToken {
  const t = typeof token === 'string' ? parseEnrolment(token) : asToken(token);
  const who = `enrolment token of peer ${t.peer}`;
  const trusted = keyFingerprint(opts.adminPublicKey);
  if (t.admin !== trusted) {
    throw new SecurityError(
      'other-admin',
      `${who}: signed by administrator key ${t.admin}, but this network trusts ${trusted}`,
    );
  }
  if (!verifyBytes(opts.adminPublicKey, enrolmentSigningInput(t), t.sig)) {
    throw new SecurityError(
      'bad-signature',
      `${who}: signature does not verify with the administrator key (forged or altered)`,
    );
  }
  if (t.network !== opts.network) {
    throw new SecurityError('wrong-network', `${who}: issued for network ${t.network}, this is ${opts.network}`);
  }
  const revoked = opts.revoked;
  if (revoked && (typeof revoked === 'function' ? revoked(t.peer, t) : revoked.has(t.peer))) {
    throw new SecurityError('revoked', `${who}: the peer was revoked by the administrator`);
  }
  const now = opts.now === undefined ? Date.now() : new Date(opts.now).getTime();
  if (now + (opts.clockSkewMs ?? 60_000) < Date.parse(t.issuedAt)) {
    throw new SecurityError('not-yet-valid', `${who}: issued at ${t.issuedAt}, in the future of this peer's clock`);
  }
  if (now >= Date.parse(t.expiresAt)) {
    throw new SecurityError('expired', `${who}: expired at ${t.expiresAt}; ask the administrator for a new one`);
  }
  return t;
}

/** Fingerprint of the public key of an administrator private key (PEM). */
export function adminFingerprintOf(adminPrivateKeyPem: string): string {
  let publicPem: string;
  try {
    publicPem = createPublicKey(adminPrivateKeyPem).export({ type: 'spki', format: 'pem' }).toString();
  } catch {
    throw new SecurityError('malformed', 'the administrator private key does not parse');
  }
  return keyFingerprint(publicPem);
}

/** Checks an untrusted value's shape, names, keys and times. @throws SecurityError('malformed') */
function asToken(value: unknown): EnrolmentToken {
  const t = value as Partial<Record<keyof EnrolmentToken, unknown>> | null;
  if (!t || typeof t !== 'object' || Array.isArray(t))
    throw new SecurityError('malformed', 'enrolment token is not an object');
  for (const name of [
    'network',
    'peer',
    'suite',
    'signingKey',
    'encryptionKey',
    'issuedAt',
    'expiresAt',
    'admin',
    'sig',
  ] as const) {
    if (typeof t[name] !== 'string') throw new SecurityError('malformed', `enrolment token field ${name} is missing`);
  }
  checkFields(t as EnrolmentToken);
  return t as EnrolmentToken;
}

function checkFields(t: Omit<EnrolmentToken, 'sig'>): void {
  if (t.v !== 1) throw new SecurityError('malformed', `enrolment token version ${JSON.stringify(t.v)} is not 1`);
  if (!NAME_PATTERN.test(t.network))
    throw new SecurityError('malformed', `network name ${JSON.stringify(t.network)} is not valid`);
  if (!NAME_PATTERN.test(t.peer))
    throw new SecurityError('malformed', `peer id ${JSON.stringify(t.peer)} is not valid`);
  if (!KEY_SUITES.includes(t.suite))
    throw new SecurityError('malformed', `key suite ${JSON.stringify(t.suite)} is not modern or rsa`);
  assertKeyType(t.signingKey, t.suite, 'signing');
  assertKeyType(t.encryptionKey, t.suite, 'encryption');
  const issued = isoTime(t.issuedAt, 'issuedAt');
  const expires = isoTime(t.expiresAt, 'expiresAt');
  if (expires <= issued) throw new SecurityError('malformed', 'enrolment token expires before it is issued');
  if (!/^[0-9a-f]{32}$/.test(t.admin))
    throw new SecurityError('malformed', 'enrolment token admin is not a key fingerprint');
}

function isoTime(text: string, field: string): number {
  const ms = Date.parse(text);
  if (Number.isNaN(ms) || new Date(ms).toISOString() !== text) {
    throw new SecurityError('malformed', `enrolment token ${field} is not an ISO time (YYYY-MM-DDTHH:MM:SS.sssZ)`);
  }
  return ms;
}
