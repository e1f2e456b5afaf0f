import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** AES-256-GCM output: 96-bit random IV, ciphertext, 128-bit tag. */
export interface AeadParts {
  iv: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
}

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Encrypts with AES-256-GCM under `key` (32 bytes), binding `aad`. A fresh random IV per call. */
export function aesGcmEncrypt(key: Buffer, plaintext: Buffer, aad: Buffer): AeadParts {
  checkKey(key);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { iv, ciphertext, tag: cipher.getAuthTag() };
}

/**
 * Decrypts and authenticates AES-256-GCM. Returns null when the key, the AAD, the IV, the tag or the
 * ciphertext is wrong (GCM cannot tell which): callers turn that into their own error.
 */
export function aesGcmDecrypt(key: Buffer, parts: AeadParts, aad: Buffer): Buffer | null {
  checkKey(key);
  if (parts.iv.length !== IV_BYTES || parts.tag.length !== TAG_BYTES) return null;
  const decipher = createDecipheriv('aes-256-gcm', key, parts.iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(parts.tag);
  try {
    return Buffer.concat([decipher.update(parts.ciphertext), decipher.final()]);
  } catch {
    return null;
  }
}

function checkKey(key: Buffer): void {
  if (key.length !== KEY_BYTES) throw new RangeError(`AES-256-GCM needs a ${KEY_BYTES}-byte key, got ${key.length}`);
}

/** Strict base64: decodes only what `Buffer#toString('base64')` would write (rejects alternative spellings). */
export function fromBase64(text: unknown): Buffer | null {
  if (typeof text !== 'string') return null;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : null;
}
