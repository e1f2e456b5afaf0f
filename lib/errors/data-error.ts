/** A dataset file is missing, truncated or malformed, or a shard/batch is out of range. */
export class DataError extends Error {
  override name = 'DataError';
}
