import { ConfigError } from '../errors/config-error';

/**
 * Zeno (Xie et al. 2019): the mean of the n - b candidates with the highest scores
 * L(w) - L(w - lr g_i) - rho ||g_i||^2 (computed by the `zeno-scores` function, where the model runs).
 * Needs b < n. Tie rule: equal scores in input (rank) order; a NaN score ranks last.
 */
export function zenoWeights(scores: readonly number[], b: number): number[] {
  const n = scores.length;
  if (!Number.isInteger(b) || b < 0 || b >= n) throw new ConfigError(`zeno needs 0 <= b < n, got b = ${b}, n = ${n}`);
  const key = (i: number) => (Number.isNaN(scores[i]) ? -Infinity : scores[i]);
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => key(y) - key(x) || x - y);
  const keep = new Set(order.slice(0, n - b));
  return scores.map((_, i) => (keep.has(i) ? 1 / (n - b) : 0));
}
