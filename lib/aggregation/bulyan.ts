import { krumScores } from './krum';
import type { Gram } from './gram';
import { orderBy, requirePeers } from './vector-rule';

export interface BulyanSelection {
  /** The theta = n - 2f inputs chosen by repeated Krum, in the order chosen. */
  selected: number[];
  /**
   * The per-coordinate step on the selected inputs: for each coordinate the mean of the beta = theta - 2f
   * values closest to their median, i.e. MeaMed with f' = 2f over `selected` (the database's meamed kernel).
   */
  meamedF: number;
}

/**
 * Bulyan(f) (El Mhamdi et al. 2018), selection half: n >= 4f + 3; repeatedly pick the Krum winner among the
 * inputs not yet picked (Krum with the same f on the shrinking set) until theta = n - 2f are picked. Tie rule:
 * as Krum, the lowest input index (also when the remaining set is too small for any neighbour to count).
 */
export function bulyanSelect(g: Gram, f: number): BulyanSelection {
  const n = g.length;
  requirePeers('bulyan', n, f, 4 * f + 3, 'n >= 4f + 3');
  const theta = n - 2 * f;
  const left = Array.from({ length: n }, (_, i) => i);
  const selected: number[] = [];
  while (selected.length < theta) {
    // Krum's score on the remaining set counts |left| - f - 2 neighbours; once that is 0 (the last picks
    // for small n) every score is 0 and the lowest index is picked.
    const scores = krumScores(g, f, left);
    const pick = left[orderBy(left.length, (k) => scores[k])[0]];
    selected.push(pick);
    left.splice(left.indexOf(pick), 1);
  }
  return { selected, meamedF: 2 * f };
}
