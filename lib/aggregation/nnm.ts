import { squaredDistance } from './gram';
import { orderBy, requirePeers, type PreAggregator } from './vector-rule';

/**
 * Nearest-neighbour mixing (Allouah et al. 2023), a pre-aggregator: each input is replaced by the mean of its
 * n - f nearest inputs, itself included (distance 0). Defined for 2f < n. Tie rule: among equal distances
 * the lower input index is taken first (an input always ranks first among its own neighbours).
 */
export function nnm(f: number): PreAggregator {
  return {
    name: 'nnm',
    check: (n) => requirePeers('nnm', n, f, 2 * f + 1, '2f < n'),
    mix(g) {
      const n = g.length;
      const k = n - f;
      return g.map((_, i) => {
        const near = new Set(orderBy(n, (j) => (j === i ? -1 : squaredDistance(g, i, j))).slice(0, k));
        return g.map((__, j) => (near.has(j) ? 1 / k : 0));
      });
    },
  };
}
