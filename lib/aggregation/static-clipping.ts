import { ConfigError } from '../errors/config-error';
import type { PreAggregator } from './vector-rule';

/**
 * Static clipping (pre-aggregator): each input scaled to norm at most `c`: g_i <- min(1, c / ||g_i||) g_i.
 * An input of norm 0 stays as it is.
 */
export function staticClipping(c: number): PreAggregator {
  return {
    name: 'clipping',
    check() {
      if (!(c > 0) || !Number.isFinite(c)) throw new ConfigError(`clipping: the threshold must be > 0, got ${c}`);
    },
    mix(g) {
      return g.map((row, i) => {
        const norm = Math.sqrt(Math.max(0, row[i]));
        const scale = norm > 0 ? Math.min(1, c / norm) : 1;
        return row.map((_, j) => (j === i ? scale : 0));
      });
    },
  };
}
