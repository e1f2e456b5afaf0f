import { constants, createPrivateKey, sign, verify, type KeyObject } from 'node:crypto';
import { SecurityError } from '../errors/security-error';
import { fromBase64 } from './aead';
import { parsePublicKey } from './keys';

/** PSS salt length for RSA-PSS signatures: the digest length (SHA-256), as RFC 8017 recommends. */
const PSS_SALT_BYTES = 32;

/**
 * Parsed keys by PEM text: signing and verifying run on every step (gradients, sync messages, heartbeats),
 * and parsing a PEM costs more than an Ed25519 signature. Bounded; the oldest entry goes first.
 */
const parsed = new Map<string, KeyObject>();
const PARSED_MAX = 64;

function cachedKey(pem: string, parse: (pem: string) => KeyObject): KeyObject {
  let key = parsed.get(pem);
  if (!key) {
    key = parse(pem);
    if (parsed.size >= PARSED_MAX) parsed.delete(parsed.keys().next().value as string);
    parsed.set(pem, key);
  }
  return key;
}

/**
 * Signs `data` with an Ed25519 or RSA-PSS private key (PEM); the algorithm follows from the key type.
 * @returns the signature, base64
 * @throws SecurityError('wrong-key') for a key that is not a signing key of either suite
 */
export function signBytes(privateKeyPem: string, data: Buffer): string {
  let key: KeyObject;
  try {
    key = cachedKey(privateKeyPem, (pem) => createPrivateKey(pem));
  } catch {
    throw new SecurityError('malformed', 'the signing private key does not parse');
  }
  switch (key.asymmetricKeyType) {
    case 'ed25519':
      return sign(null, data, key).toString('base64');
    case 'rsa-pss':
      return sign('sha256', data, {
        key,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: PSS_SALT_BYTES,
      }).toString('base64');
    default:
      throw new SecurityError(
        'wrong-key',
        `a ${key.asymmetricKeyType ?? 'non-asymmetric'} key cannot sign: use the Ed25519 or RSA-PSS signing key`,
      );
  }
}

/**
 * Verifies a base64 signature over `data` with an Ed25519 or RSA-PSS public key (PEM). Returns false for
 * any signature that is not valid, including one that is not canonical base64 or has the wrong length; it
 * never throws on signature input.
 * @throws SecurityError('malformed' | 'wrong-key') only when the public key itself is unusable
 */
export function verifyBytes(publicKeyPem: string, data: Buffer, sigB64: string): boolean {
  const key = cachedKey(publicKeyPem, parsePublicKey);
  const signature = fromBase64(sigB64);
  if (!signature || signature.length === 0) return false;
  try {
    switch (key.asymmetricKeyType) {
      case 'ed25519':
        return verify(null, data, key, signature);
      case 'rsa-pss':
        return verify(
          'sha256',
          data,
          { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: PSS_SALT_BYTES },
          signature,
        );
      default:
        break;
    }
  } catch {
    return false;
  }
  throw new SecurityError(
    'wrong-key',
    `a ${key.asymmetricKeyType ?? 'non-asymmetric'} key cannot verify signatures: use the Ed25519 or RSA-PSS signing key`,
  );
}
