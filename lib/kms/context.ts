import { SecurityError } from '../errors/security-error';
import { canonicalJson } from '../crypto/canonical';
import type { EncryptionContext } from './types';

/**
 * Checks an encryption context (string values only, like AWS KMS) and returns its canonical JSON, the
 * associated data the local KMS binds.
 * @throws SecurityError('malformed')
 */
export function contextAad(context: EncryptionContext): Buffer {
  if (!context || typeof context !== 'object' || Array.isArray(context)) {
    throw new SecurityError('malformed', 'encryption context must be an object of strings');
  }
  for (const [key, value] of Object.entries(context)) {
    if (typeof value !== 'string')
      throw new SecurityError('malformed', `encryption context value of ${key} is not a string`);
  }
  return Buffer.from(canonicalJson(context), 'utf8');
}
