/** The local stack (Temporal dev server, redis-server, workers) cannot start or be reached. */
export class StackError extends Error {
  override name = 'StackError';
}
