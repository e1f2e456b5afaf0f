import { squaredDistance, type Gram } from './gram';
import { orderBy, requirePeers, type VectorRule } from './vector-rule';

/**
 * Krum scores (Blanchard et al. 2017): for each input, the sum of its squared distances to its n - f - 2
 * nearest other inputs. Ties between distances do not matter (only their sum counts).
 */
export function krumScores(g: Gram, f: number, among: readonly number[] = g.map((_, i) => i)): number[] {
  const k = Math.max(0, among.length - f - 2);
  return among.map((i) => {
    const d = among.filter((j) => j !== i).map((j) => squaredDistance(g, i, j));
    d.sort((a, b) => a - b);
    return d.slice(0, k).reduce((s, x) => s + x, 0);
  });
}

/**
 * Krum(f): the single input with the lowest score. Needs n >= 2f + 3. Tie rule: among equal scores, the
 * lowest input index (peers are in rank order) wins.
 */
export function krum(f: number): VectorRule {
  return {
    name: 'krum',
    check: (n) => requirePeers('krum', n, f, 2 * f + 3, 'n >= 2f + 3'),
    weights(g) {
      const scores = krumScores(g, f);
      const best = orderBy(g.length, (i) => scores[i])[0];
      return g.map((_, i) => (i === best ? 1 : 0));
    },
  };
}
