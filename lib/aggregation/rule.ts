import type { RunConfig } from '../config/schema';
import type { AggregateRule } from '../redis/tensor-ops';

/**
 * The per-coordinate rule for `n` peer gradients. f is lowered to the largest value with 2f < n
 * when fewer peers than planned take part in a step (a robust rule must still produce an update).
 */
export function aggregationRule(aggregation: RunConfig['aggregation'], byzantineF: number, n: number): AggregateRule {
  const f = Math.max(0, Math.min(byzantineF, Math.floor((n - 1) / 2)));
  switch (aggregation) {
    case 'mean':
      return { kind: 'mean' };
    case 'median':
      return { kind: 'median' };
    case 'trimmed-mean':
      return { kind: 'trimmedMean', f };
    case 'meamed':
      return { kind: 'meamed', f };
  }
}
