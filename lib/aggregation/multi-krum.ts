import { krumScores } from './krum';
import { orderBy, requirePeers, type VectorRule } from './vector-rule';
import { ConfigError } from '../errors/config-error';

/**
 * Multi-Krum(f, m): the mean of the m inputs with the lowest Krum scores. Needs n >= 2f + 3 and 1 <= m <= n;
 * m defaults to n - f. Tie rule: equal scores are taken in input (rank) order.
 */
export function multiKrum(f: number, m?: number): VectorRule {
  return {
    name: 'multi-krum',
    check(n) {
      requirePeers('multi-krum', n, f, 2 * f + 3, 'n >= 2f + 3');
      const k = m ?? n - f;
      if (!Number.isInteger(k) || k < 1 || k > n) throw new ConfigError(`multi-krum: m must be 1..${n}, got ${k}`);
    },
    weights(g) {
      const k = m ?? g.length - f;
      const scores = krumScores(g, f);
      const chosen = new Set(orderBy(g.length, (i) => scores[i]).slice(0, k));
      return g.map((_, i) => (chosen.has(i) ? 1 / k : 0));
    },
  };
}
