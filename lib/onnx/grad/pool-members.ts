import type { GraphBuilder } from '../builder';

/**
 * A max-pool input gradient also offered per window member: for a pool whose s x s windows tile its input,
 * `members` = [N, C, s*s, Ho, Wo] holds, for member m = (a, b) of window (i, j), the gradient that reaches input
 * pixel (s*i + a, s*j + b) (zero except at each window's first maximum), and `pooled` = [N, C, Ho, Wo] the
 * gradient of the pool output (every value of it reaches exactly one member). A convolution feeding the pool can
 * compute its weight and bias gradients from this form without the scattered full-size gradient.
 */
export interface PoolMembers {
  members: string;
  pooled: string;
  block: number;
}

const forms = new WeakMap<GraphBuilder, Map<string, PoolMembers>>();

/** Records that gradient value `dx` is also available as `form`. */
export function offerPoolMembers(b: GraphBuilder, dx: string, form: PoolMembers): void {
  let m = forms.get(b);
  if (!m) forms.set(b, (m = new Map()));
  m.set(dx, form);
}

/** The member form of gradient value `dy`, when the max-pool rule that produced it offered one. */
export function poolMembersOf(b: GraphBuilder, dy: string): PoolMembers | undefined {
  return forms.get(b)?.get(dy);
}
