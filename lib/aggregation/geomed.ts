import { squaredDistancesTo, type Gram } from './gram';
import { requirePeers, type VectorRule } from './vector-rule';

export interface GeoMedOptions {
  /** Stop when the estimate moves less than tolerance * (1 + its norm). @default 1e-6 */
  tolerance?: number;
  /** At most this many Weiszfeld iterations. @default 100 */
  maxIterations?: number;
  /** A distance below this counts as this (an estimate on an input would divide by zero). @default 1e-12 */
  epsilon?: number;
}

/**
 * Geometric median by Weiszfeld's iterations, started at the mean: z <- sum_i b_i g_i / sum_i b_i with
 * b_i = 1 / max(||z - g_i||, epsilon). Defined for 2f < n (breakdown point 1/2). Stops at `tolerance` (relative
 * to the estimate's norm) or `maxIterations`, whichever comes first. Each iteration is O(n^2) on the Gram
 * matrix. No tie rule is needed: the weights are continuous in the inputs.
 */
export function geoMed(f: number, opts: GeoMedOptions = {}): VectorRule {
  const tolerance = opts.tolerance ?? 1e-6;
  const maxIterations = opts.maxIterations ?? 100;
  const epsilon = opts.epsilon ?? 1e-12;
  return {
    name: 'geomed',
    check: (n) => requirePeers('geomed', n, f, 2 * f + 1, '2f < n'),
    weights(g) {
      const n = g.length;
      let w = new Array<number>(n).fill(1 / n);
      for (let it = 0; it < maxIterations; it++) {
        const d = squaredDistancesTo(g, w).map((x) => Math.max(Math.sqrt(x), epsilon));
        const b = d.map((x) => 1 / x);
        const total = b.reduce((s, x) => s + x, 0);
        const next = b.map((x) => x / total);
        const delta = next.map((x, i) => x - w[i]);
        const moved = Math.sqrt(Math.max(0, quadratic(g, delta)));
        const norm = Math.sqrt(Math.max(0, quadratic(g, next)));
        w = next;
        if (moved <= tolerance * (1 + norm)) break;
      }
      return w;
    },
  };
}

function quadratic(g: Gram, w: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < w.length; i++) for (let j = 0; j < w.length; j++) s += w[i] * g[i][j] * w[j];
  return s;
}
