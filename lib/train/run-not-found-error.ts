/** A run id names no peer workflow (or no running one, for a signal) in the Temporal namespace. */
export class RunNotFoundError extends Error {
  override name = 'RunNotFoundError';
}
