import type { RunConfig } from '../config/schema';
import type { AggregateRule } from '../redis/tensor-ops';
import { centeredClipping } from './centered-clipping';
import { geoMed } from './geomed';
import { krum } from './krum';
import { multiKrum } from './multi-krum';
import { nnm } from './nnm';
import { staticClipping } from './static-clipping';
import type { PreAggregator, VectorRule } from './vector-rule';

/**
 * The per-coordinate rule for `n` peer gradients. f is lowered to the largest value with 2f < n
 * when fewer peers than planned take part in a step (a robust rule must still produce an update).
 */
export function aggregationRule(
  aggregation: 'mean' | 'median' | 'trimmed-mean' | 'meamed',
  byzantineF: number,
  n: number,
): AggregateRule {
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

/** The run config fields the rules read (the optional ones default as in the run config). */
export type RobustConfig = Pick<RunConfig, 'aggregation' | 'byzantineF'> &
  Partial<
    Pick<
      RunConfig,
      | 'preAggregation'
      | 'clippingThreshold'
      | 'multiKrumM'
      | 'centeredClippingTau'
      | 'centeredClippingIterations'
      | 'geomedTolerance'
      | 'geomedMaxIterations'
      | 'zenoRho'
      | 'zenoBatch'
      | 'learningRate'
      | 'momentum'
    >
  >;

/** The fields of a run config the rules read (what the run plan stores). */
export function robustConfigOf(config: RunConfig): RobustConfig {
  return {
    aggregation: config.aggregation,
    byzantineF: config.byzantineF,
    preAggregation: config.preAggregation,
    clippingThreshold: config.clippingThreshold,
    ...(config.multiKrumM !== undefined ? { multiKrumM: config.multiKrumM } : {}),
    centeredClippingTau: config.centeredClippingTau,
    centeredClippingIterations: config.centeredClippingIterations,
    geomedTolerance: config.geomedTolerance,
    geomedMaxIterations: config.geomedMaxIterations,
    zenoRho: config.zenoRho,
    zenoBatch: config.zenoBatch,
    learningRate: config.learningRate,
    momentum: config.momentum,
  };
}

/** How a step's n inputs are combined. */
export type AggregationPlan =
  | { kind: 'coordinate'; rule: AggregateRule }
  | { kind: 'vector'; rule: VectorRule }
  | { kind: 'bulyan'; f: number }
  | { kind: 'zeno'; b: number };

/** The smallest n each rule is defined for, at a given f. */
export function minInputs(aggregation: RunConfig['aggregation'], f: number): number {
  switch (aggregation) {
    case 'krum':
    case 'multi-krum':
      return 2 * f + 3;
    case 'bulyan':
      return 4 * f + 3;
    case 'zeno':
      return f + 1;
    case 'mean':
      return 1;
    default:
      return 2 * f + 1;
  }
}

/**
 * The plan for `n` inputs. When fewer peers than planned take part in a step, f is lowered to the largest
 * value the rule's precondition allows (a robust rule must still produce an update); when even f = 0 does not
 * fit (Krum or Bulyan with 1 or 2 inputs), the inputs are averaged. Returns the f used.
 */
export function aggregationPlan(config: RobustConfig, n: number): { plan: AggregationPlan; f: number } {
  const a = config.aggregation;
  let f = Math.max(0, config.byzantineF);
  while (f > 0 && n < minInputs(a, f)) f--;
  if (n < minInputs(a, f)) return { plan: { kind: 'coordinate', rule: { kind: 'mean' } }, f: 0 };
  switch (a) {
    case 'mean':
    case 'median':
    case 'trimmed-mean':
    case 'meamed':
      return { plan: { kind: 'coordinate', rule: aggregationRule(a, f, n) }, f };
    case 'krum':
      return { plan: { kind: 'vector', rule: krum(f) }, f };
    case 'multi-krum':
      return { plan: { kind: 'vector', rule: multiKrum(f, config.multiKrumM && Math.min(config.multiKrumM, n)) }, f };
    case 'geomed':
      return {
        plan: {
          kind: 'vector',
          rule: geoMed(f, {
            tolerance: config.geomedTolerance ?? 1e-6,
            maxIterations: config.geomedMaxIterations ?? 100,
          }),
        },
        f,
      };
    case 'centered-clipping':
      return {
        plan: {
          kind: 'vector',
          rule: centeredClipping(f, config.centeredClippingTau ?? 'auto', config.centeredClippingIterations ?? 3),
        },
        f,
      };
    case 'bulyan':
      return { plan: { kind: 'bulyan', f }, f };
    case 'zeno':
      return { plan: { kind: 'zeno', b: f }, f };
  }
}

/** The configured pre-aggregators, in order, at the f the rule uses (NNM's f is lowered to 2f < n too). */
export function preAggregators(config: RobustConfig, n: number, f: number): PreAggregator[] {
  return (config.preAggregation ?? []).map((name) =>
    name === 'clipping' ? staticClipping(config.clippingThreshold ?? 10) : nnm(Math.min(f, Math.floor((n - 1) / 2))),
  );
}
