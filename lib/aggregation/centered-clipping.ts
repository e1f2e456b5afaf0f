import { ConfigError } from '../errors/config-error';
import { squaredDistancesTo } from './gram';
import { requirePeers, type VectorRule } from './vector-rule';

/**
 * Centered clipping (Karimireddy, He and Jaggi 2021), `iterations` rounds from a start point v0:
 * v <- v + (1/n) sum_i min(1, tau / ||g_i - v||) (g_i - v). A difference of norm 0 is not clipped.
 * Defined for 2f < n. `tau` 'auto' takes at each round the median of the n distances ||g_i - v|| (the mean
 * of the two middle ones for even n): with 2f < n it is at most an honest input's distance, so a Byzantine
 * input moves v no further than an honest one does, whatever the gradients' scale.
 *
 * The rule is anchored: `weights` gets the Gram matrix of the n inputs followed by the start point (n + 1
 * vectors) and returns n + 1 weights. As in the paper the start point is the previous step's aggregate,
 * here (1 - momentum) x the SGD momentum buffer (an exponential average of the past aggregates; the
 * aggregate itself when momentum is 0), and 0 at the first step. Starting from 0 every step (as ByzFL
 * does without a previous aggregate) lets a large attack through unless tau is below the honest
 * gradients' norm, which in turn shrinks every step.
 */
export function centeredClipping(f: number, tau: number | 'auto', iterations = 1): VectorRule {
  return {
    name: 'centered-clipping',
    anchored: true,
    check(n) {
      requirePeers('centered-clipping', n, f, 2 * f + 1, '2f < n');
      if (tau !== 'auto' && (!(tau > 0) || !Number.isFinite(tau)))
        throw new ConfigError(`centered-clipping: tau must be > 0, got ${tau}`);
      if (!Number.isInteger(iterations) || iterations < 1)
        throw new ConfigError(`centered-clipping: iterations must be >= 1, got ${iterations}`);
    },
    weights(g) {
      const n = g.length - 1;
      let v = new Array<number>(n + 1).fill(0);
      v[n] = 1;
      for (let it = 0; it < iterations; it++) {
        const d = squaredDistancesTo(g, v).map(Math.sqrt).slice(0, n);
        const radius = tau === 'auto' ? median(d) : tau;
        const c = d.map((x) => (x > 0 ? Math.min(1, radius / x) : 1));
        const cSum = c.reduce((s, x) => s + x, 0);
        v = v.map((vi, i) => vi * (1 - cSum / n) + (i < n ? c[i] / n : 0));
      }
      return v;
    },
  };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
