/** A tensor has the wrong length or shape, or holds NaN/Inf where finite values are required. */
export class TensorError extends Error {
  override name = 'TensorError';
}
