/**
 * A peer's vote at a step (paper III.3.10): the other active peers its failure detector suspects, and those an
 * operator removed, in active-set order. Pure: the workflow and the fused step activity compute the same.
 */
export function suspectsOf(others: string[], probed: { peer: string }[], forced: string[]): string[] {
  return others.filter((p) => forced.includes(p) || probed.some((s) => s.peer === p));
}
