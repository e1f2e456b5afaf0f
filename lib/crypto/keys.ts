import { createHash, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { SecurityError } from '../errors/security-error';

/**
 * Which algorithms a peer's keys use.
 * - `modern` (default): Ed25519 signatures, X25519 + HKDF-SHA256 + AES-256-GCM encryption. Small keys,
 *   fast, deterministic signatures, no padding choices to get wrong.
 * - `rsa`: RSA-PSS (SHA-256, 3072 bits) signatures and RSA-OAEP (SHA-256) key wrapping, as in the SPIRT
 *   paper, for deployments that must stay with RSA.
 */
export type KeySuite = 'modern' | 'rsa';

export const KEY_SUITES: readonly KeySuite[] = ['modern', 'rsa'];

/** @default 'modern' */
export const DEFAULT_KEY_SUITE: KeySuite = 'modern';

/** RSA modulus size of the `rsa` suite (NIST: 128-bit security). */
export const RSA_BITS = 3072;

/** One key pair as PEM strings: SPKI public key, PKCS#8 private key. */
export interface KeyPairPem {
  publicKey: string;
  privateKey: string;
}

/** A peer's two key pairs: one signs protocol messages, the other receives sealed secrets. */
export interface PeerKeys {
  suite: KeySuite;
  signing: KeyPairPem;
  encryption: KeyPairPem;
}

/** The Node key types each suite uses, by role. */
export const SUITE_KEY_TYPES: Record<KeySuite, { signing: string; encryption: string }> = {
  modern: { signing: 'ed25519', encryption: 'x25519' },
  rsa: { signing: 'rsa-pss', encryption: 'rsa' },
};

// SPKI public keys and PKCS#8 private keys, PEM (the formats every tool reads).
const SPKI = { type: 'spki', format: 'pem' } as const;
const PKCS8 = { type: 'pkcs8', format: 'pem' } as const;

/**
 * Generates a peer's signing and encryption key pairs. Synchronous: `modern` takes well under a
 * millisecond; `rsa` takes about a second (two 3072-bit keys), which is why it is done once per peer, at
 * setup, and never inside a training step.
 * @param suite @default 'modern'
 * @throws SecurityError('malformed') for an unknown suite
 */
export function generatePeerKeys(suite: KeySuite = DEFAULT_KEY_SUITE): PeerKeys {
  if (suite === 'modern') {
    return {
      suite,
      signing: generateKeyPairSync('ed25519', { publicKeyEncoding: SPKI, privateKeyEncoding: PKCS8 }),
      encryption: generateKeyPairSync('x25519', { publicKeyEncoding: SPKI, privateKeyEncoding: PKCS8 }),
    };
  }
  if (suite === 'rsa') {
    // An RSA-PSS key (id-RSASSA-PSS) can only make PSS signatures: it cannot be misused for PKCS#1 v1.5
    // signatures or for decryption.
    const signing = generateKeyPairSync('rsa-pss', {
      modulusLength: RSA_BITS,
      hashAlgorithm: 'sha256',
      // The key's minimum salt length defaults to the digest length (32), the salt sign.ts uses.
      mgf1HashAlgorithm: 'sha256',
      publicKeyEncoding: SPKI,
      privateKeyEncoding: PKCS8,
    });
    return {
      suite,
      signing,
      encryption: generateKeyPairSync('rsa', {
        modulusLength: RSA_BITS,
        publicKeyEncoding: SPKI,
        privateKeyEncoding: PKCS8,
      }),
    };
  }
  throw new SecurityError('malformed', `unknown key suite "${String(suite)}": use modern or rsa`);
}

/** Generates an administrator key pair (Ed25519): it signs enrolment tokens and revocations. */
export function generateAdminKeys(): KeyPairPem {
  return generateKeyPairSync('ed25519', { publicKeyEncoding: SPKI, privateKeyEncoding: PKCS8 });
}

/**
 * A short, stable name for a public key: hex of the first 16 bytes (128 bits) of SHA-256 over its DER
 * SPKI encoding. 128 bits is plenty to tell keys apart and to catch substitution; it is not a secret.
 * @throws SecurityError('malformed') when the text is not a public key
 */
export function keyFingerprint(publicKeyPem: string): string {
  const der = parsePublicKey(publicKeyPem).export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest().subarray(0, 16).toString('hex');
}

/**
 * Parses a PEM public key (a private key is refused: callers must never handle one by mistake).
 * @throws SecurityError('malformed')
 */
export function parsePublicKey(publicKeyPem: string): KeyObject {
  if (typeof publicKeyPem !== 'string' || !publicKeyPem.includes('-----BEGIN PUBLIC KEY-----')) {
    throw new SecurityError('malformed', 'not a PEM public key (expected -----BEGIN PUBLIC KEY-----)');
  }
  try {
    return createPublicKey(publicKeyPem);
  } catch {
    throw new SecurityError('malformed', 'the PEM public key does not parse');
  }
}

/**
 * Checks that a public key has the type its suite and role need (e.g. a `modern` encryption key is X25519).
 * @throws SecurityError('malformed')
 */
export function assertKeyType(publicKeyPem: string, suite: KeySuite, role: 'signing' | 'encryption'): void {
  const expected = SUITE_KEY_TYPES[suite]?.[role];
  if (!expected) throw new SecurityError('malformed', `unknown key suite "${String(suite)}": use modern or rsa`);
  const key = parsePublicKey(publicKeyPem);
  if (key.asymmetricKeyType !== expected) {
    throw new SecurityError(
      'malformed',
      `the ${role} key is ${key.asymmetricKeyType ?? 'of an unknown type'}, but suite ${suite} needs ${expected}`,
    );
  }
  if (suite === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < RSA_BITS) {
    throw new SecurityError(
      'malformed',
      `the ${role} key has ${key.asymmetricKeyDetails?.modulusLength} bits, needs ${RSA_BITS}`,
    );
  }
}
