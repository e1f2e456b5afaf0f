import { randomBytes } from 'node:crypto';

/** A fresh message id: 128 random bits, hex. */
export function messageId(): string {
  return randomBytes(16).toString('hex');
}

/** True for a string `messageId()` could have made (what a pump accepts as a dedup key). */
export function isMessageId(id: unknown): id is string {
  return typeof id === 'string' && /^[0-9a-f]{16,64}$/.test(id);
}
