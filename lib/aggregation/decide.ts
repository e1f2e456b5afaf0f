// The decision half of a distance-based rule or a pre-aggregated rule, shared by the database path
// (lib/redis/robust-aggregate.ts) and the single-process replay (bench/robust-replay.ts): from the Gram
// matrix of the step's inputs to either the weights of the result or the inputs a per-coordinate kernel
// must run on.
import type { AggregateRule } from '../redis/tensor-ops';
import { bulyanSelect } from './bulyan';
import { composeWeights, transformGram, type Gram } from './gram';
import type { AggregationPlan, RobustConfig } from './rule';
import { preAggregators } from './rule';

export type GramDecision =
  /** The result is sum_k weights[k] v_k over the Gram's vectors (the n inputs, then the anchor if any). */
  | { kind: 'weighted'; weights: number[] }
  /**
   * The result is `rule` run per coordinate over `inputs`; each is a weight row over the n inputs (a mixed
   * input) or, when `identity`, stands for the input of the same index in `chosen`.
   */
  | { kind: 'coordinate'; rule: AggregateRule; chosen: number[]; mix: number[][] | null };

/** True when the plan's rule starts from the anchor (centered clipping: the previous aggregate). */
export function wantsAnchor(plan: AggregationPlan): boolean {
  return plan.kind === 'vector' && plan.rule.anchored === true;
}

/**
 * Decides on `gram`: the Gram matrix of the n inputs, followed (when `anchorScale` is given) by one more
 * vector, the anchor, which enters the rule as anchorScale x that vector. An anchored rule without an
 * anchor starts from 0.
 * @throws ConfigError when the rule or a pre-aggregator is not defined for n inputs
 */
export function decideOnGram(
  config: RobustConfig,
  plan: Exclude<AggregationPlan, { kind: 'zeno' }>,
  f: number,
  gram: Gram,
  anchorScale: number | null,
): GramDecision {
  const n = anchorScale === null ? gram.length : gram.length - 1;
  const inputs = anchorScale === null ? gram : gram.slice(0, n).map((row) => row.slice(0, n));
  // Each pre-aggregator maps the current inputs to new ones; `mix` holds them as weights over the inputs.
  let mix: number[][] = inputs.map((_, i) => inputs.map((__, j) => (i === j ? 1 : 0)));
  const pre = preAggregators(config, n, f);
  for (const p of pre) {
    p.check(n);
    mix = p.mix(transformGram(inputs, mix)).map((row) => composeWeights(row, mix));
  }
  if (plan.kind === 'vector') {
    plan.rule.check(n);
    if (!plan.rule.anchored)
      return { kind: 'weighted', weights: composeWeights(plan.rule.weights(transformGram(inputs, mix)), mix) };
    // The mixed inputs and the (scaled) anchor, as rows over the Gram's vectors.
    const rows = [
      ...mix.map((r) => (anchorScale === null ? r : [...r, 0])),
      anchorScale === null ? new Array<number>(n).fill(0) : [...new Array<number>(n).fill(0), anchorScale],
    ];
    return { kind: 'weighted', weights: composeWeights(plan.rule.weights(transformGram(gram, rows)), rows) };
  }
  const mixed = transformGram(inputs, mix);
  if (plan.kind === 'bulyan') {
    const { selected, meamedF } = bulyanSelect(mixed, plan.f);
    return { kind: 'coordinate', rule: { kind: 'meamed', f: meamedF }, chosen: selected, mix: pre.length ? mix : null };
  }
  return { kind: 'coordinate', rule: plan.rule, chosen: mixed.map((_, i) => i), mix: pre.length ? mix : null };
}
