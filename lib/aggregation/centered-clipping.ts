import { ConfigError } from '../errors/config-error';
import { squaredDistancesTo } from './gram';
import { requirePeers, type VectorRule } from './vector-rule';

/**
 * Centered clipping (Karimireddy et al. 2021), `iterations` rounds from v = 0:
 * v <- v + (1/n) sum_i min(1, tau / ||g_i - v||) (g_i - v). A difference of norm 0 is not clipped.
 * Defined for 2f < n. (The paper starts from the previous step's momentum; spirt starts from 0 each step, as
 * ByzFL does when no previous aggregate is given.)
 */
export function centeredClipping(f: number, tau: number, iterations = 1): VectorRule {
  return {
    name: 'centered-clipping',
    check(n) {
      requirePeers('centered-clipping', n, f, 2 * f + 1, '2f < n');
      if (!(tau > 0) || !Number.isFinite(tau)) throw new ConfigError(`centered-clipping: tau must be > 0, got ${tau}`);
      if (!Number.isInteger(iterations) || iterations < 1)
        throw new ConfigError(`centered-clipping: iterations must be >= 1, got ${iterations}`);
    },
    weights(g) {
      const n = g.length;
      let v = new Array<number>(n).fill(0);
      for (let it = 0; it < iterations; it++) {
        const d = squaredDistancesTo(g, v).map(Math.sqrt);
        const c = d.map((x) => (x > 0 ? Math.min(1, tau / x) : 1));
        const cSum = c.reduce((s, x) => s + x, 0);
        v = v.map((vi, i) => vi * (1 - cSum / n) + c[i] / n);
      }
      return v;
    },
  };
}
