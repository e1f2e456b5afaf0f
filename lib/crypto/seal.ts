import {
  constants,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { SecurityError } from '../errors/security-error';
import { aesGcmDecrypt, aesGcmEncrypt, fromBase64 } from './aead';
import { keyFingerprint, parsePublicKey } from './keys';

export type SealAlgorithm = 'x25519-hkdf-sha256-aes256gcm' | 'rsa-oaep-sha256-aes256gcm';

/**
 * A secret encrypted to one recipient's encryption public key. Plain JSON (base64 fields), so it can travel
 * in a Temporal payload or a Redis stream: only the holder of the matching private key can open it.
 */
export interface SealedBox {
  v: 1;
  alg: SealAlgorithm;
  /** Fingerprint of the recipient's public key, so a box opened with the wrong key says so. */
  to: string;
  /** x25519: the ephemeral public key (raw 32 bytes); rsa: the AES key wrapped with RSA-OAEP-SHA256. */
  key: string;
  iv: string;
  ct: string;
  tag: string;
}

const HKDF_INFO = 'spirt-seal-v1';

/**
 * Encrypts `plaintext` so that only the holder of the private key matching `recipientPublicKeyPem` can read
 * it, bound to `aad` (what the secret is for, e.g. `credentials:<network>:<sender>:<recipient>`): a box
 * opened with another aad fails.
 * - X25519 key: ephemeral X25519 ECDH, HKDF-SHA256 (salt = ephemeral public key || recipient public key,
 *   info `spirt-seal-v1`) to a 256-bit key, AES-256-GCM.
 * - RSA key: a random 256-bit AES-GCM key, wrapped with RSA-OAEP (SHA-256).
 * @throws SecurityError('wrong-key') when the key is not an X25519 or RSA encryption key
 */
export function sealTo(recipientPublicKeyPem: string, plaintext: Buffer, aad: string): SealedBox {
  const recipient = parsePublicKey(recipientPublicKeyPem);
  const to = keyFingerprint(recipientPublicKeyPem);
  if (recipient.asymmetricKeyType === 'x25519') {
    const ephemeral = generateKeyPairSync('x25519');
    const ephemeralRaw = rawX25519(ephemeral.publicKey);
    const aesKey = deriveKey(ephemeral.privateKey, recipient, ephemeralRaw, rawX25519(recipient));
    return box('x25519-hkdf-sha256-aes256gcm', to, ephemeralRaw, aesKey, plaintext, aad);
  }
  if (recipient.asymmetricKeyType === 'rsa') {
    const aesKey = randomBytes(32);
    const wrapped = publicEncrypt(
      { key: recipient, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      aesKey,
    );
    return box('rsa-oaep-sha256-aes256gcm', to, wrapped, aesKey, plaintext, aad);
  }
  throw new SecurityError(
    'wrong-key',
    `cannot seal to a ${recipient.asymmetricKeyType ?? 'non-asymmetric'} key: use the recipient's X25519 or RSA encryption key`,
  );
}

/**
 * Opens a box made by {@link sealTo} with the recipient's encryption private key (PEM) and the same aad.
 * @throws SecurityError: 'malformed' (not a sealed box), 'wrong-key' (sealed to another key, or a key of
 * the other suite), 'decrypt-failed' (tampered with, or another aad)
 */
export function openSealed(privateKeyPem: string, sealed: SealedBox, aad: string): Buffer {
  const parts = parseBox(sealed);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(privateKeyPem);
  } catch {
    throw new SecurityError('malformed', 'the encryption private key does not parse');
  }
  const publicKey = createPublicKey(privateKey);
  const mine = keyFingerprint(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  if (mine !== parts.to) {
    throw new SecurityError('wrong-key', `sealed box is addressed to key ${parts.to}, not to this key ${mine}`);
  }
  const expectedType = parts.alg === 'x25519-hkdf-sha256-aes256gcm' ? 'x25519' : 'rsa';
  if (privateKey.asymmetricKeyType !== expectedType) {
    throw new SecurityError('wrong-key', `sealed box uses ${parts.alg}, which needs an ${expectedType} private key`);
  }
  let aesKey: Buffer;
  if (parts.alg === 'x25519-hkdf-sha256-aes256gcm') {
    if (parts.key.length !== 32) throw new SecurityError('malformed', 'sealed box: ephemeral key is not 32 bytes');
    let ephemeral: KeyObject;
    try {
      ephemeral = createPublicKey({
        key: { kty: 'OKP', crv: 'X25519', x: parts.key.toString('base64url') },
        format: 'jwk',
      });
    } catch {
      throw new SecurityError('malformed', 'sealed box: ephemeral key is not an X25519 public key');
    }
    aesKey = deriveKey(privateKey, ephemeral, parts.key, rawX25519(publicKey));
  } else {
    try {
      aesKey = privateDecrypt(
        { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
        parts.key,
      );
    } catch {
      throw new SecurityError('decrypt-failed', 'sealed box: the wrapped key does not decrypt (tampered with)');
    }
    if (aesKey.length !== 32) throw new SecurityError('decrypt-failed', 'sealed box: the wrapped key is not 32 bytes');
  }
  const plaintext = aesGcmDecrypt(
    aesKey,
    { iv: parts.iv, ciphertext: parts.ct, tag: parts.tag },
    gcmAad(parts.alg, aad),
  );
  aesKey.fill(0);
  if (!plaintext) {
    throw new SecurityError(
      'decrypt-failed',
      'sealed box does not authenticate: it was tampered with, or opened with another aad',
    );
  }
  return plaintext;
}

function box(alg: SealAlgorithm, to: string, key: Buffer, aesKey: Buffer, plaintext: Buffer, aad: string): SealedBox {
  const { iv, ciphertext, tag } = aesGcmEncrypt(aesKey, plaintext, gcmAad(alg, aad));
  aesKey.fill(0);
  return {
    v: 1,
    alg,
    to,
    key: key.toString('base64'),
    iv: iv.toString('base64'),
    ct: ciphertext.toString('base64'),
    tag: tag.toString('base64'),
  };
}

/** The AEAD's associated data: domain tag, algorithm and the caller's aad, as an unambiguous JSON array. */
function gcmAad(alg: SealAlgorithm, aad: string): Buffer {
  return Buffer.from(JSON.stringify([HKDF_INFO, alg, aad]), 'utf8');
}

function deriveKey(privateKey: KeyObject, publicKey: KeyObject, ephemeralRaw: Buffer, recipientRaw: Buffer): Buffer {
  const shared = diffieHellman({ privateKey, publicKey });
  // X25519 with a low-order point gives all zeros; refuse it rather than derive a predictable key.
  if (shared.every((b) => b === 0)) throw new SecurityError('malformed', 'sealed box: degenerate X25519 key');
  const salt = Buffer.concat([ephemeralRaw, recipientRaw]);
  const key = Buffer.from(hkdfSync('sha256', shared, salt, HKDF_INFO, 32));
  shared.fill(0);
  return key;
}

function rawX25519(publicKey: KeyObject): Buffer {
  const jwk = publicKey.export({ format: 'jwk' });
  return Buffer.from(jwk.x ?? '', 'base64url');
}

interface BoxParts {
  alg: SealAlgorithm;
  to: string;
  key: Buffer;
  iv: Buffer;
  ct: Buffer;
  tag: Buffer;
}

function parseBox(sealed: unknown): BoxParts {
  const b = sealed as Partial<Record<keyof SealedBox, unknown>> | null;
  if (!b || typeof b !== 'object' || b.v !== 1) throw new SecurityError('malformed', 'not a sealed box (v must be 1)');
  if (b.alg !== 'x25519-hkdf-sha256-aes256gcm' && b.alg !== 'rsa-oaep-sha256-aes256gcm') {
    throw new SecurityError('malformed', `sealed box: unknown algorithm ${JSON.stringify(b.alg)}`);
  }
  if (typeof b.to !== 'string' || !/^[0-9a-f]{32}$/.test(b.to)) {
    throw new SecurityError('malformed', 'sealed box: recipient fingerprint is not 32 hex digits');
  }
  const key = fromBase64(b.key);
  const iv = fromBase64(b.iv);
  const ct = fromBase64(b.ct);
  const tag = fromBase64(b.tag);
  if (!key || !iv || !ct || !tag) throw new SecurityError('malformed', 'sealed box: a field is not base64');
  return { alg: b.alg, to: b.to, key, iv, ct, tag };
}
