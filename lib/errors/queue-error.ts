/** A message between peers cannot be sent, or a received one is malformed. */
export class QueueError extends Error {
  override name = 'QueueError';
}
