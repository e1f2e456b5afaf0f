// Runs a step's aggregation rule inside one Redis (ARCHITECTURE.md section 7): per-coordinate rules as one
// kernel; distance-based rules and pre-aggregators decided on the inputs' Gram matrix (computed in the
// database) and written as a weighted sum (in the database). No gradient leaves the server.
import type Redis from 'ioredis';
import { bulyanSelect } from '../aggregation/bulyan';
import { checkGram, composeWeights, transformGram, type Gram } from '../aggregation/gram';
import { aggregationPlan, preAggregators, type RobustConfig } from '../aggregation/rule';
import { zenoWeights } from '../aggregation/zeno';
import { TensorError } from '../errors/tensor-error';
import { aggregateTensors, gramTensors, weightedSumTensors, type TensorOpsPath } from './tensor-ops';

export interface RobustAggregateResult {
  /** The f the rule used (lowered when fewer inputs take part than the rule needs). */
  f: number;
  /** Weight of each input in the result, for rules that decide by weights. */
  weights?: number[];
}

/**
 * `dest` = the configured rule over the tensors at `sources`.
 * @throws TensorError when an input holds NaN/Inf, is missing, or lengths differ
 */
export async function robustAggregate(
  redis: Redis,
  dest: string,
  sources: string[],
  config: RobustConfig,
  opts: {
    ttlSeconds?: number;
    path?: TensorOpsPath;
    /** Zeno: scores the candidates (the `zeno-scores` function, where the model runs). */
    zenoScores?: (sources: string[]) => Promise<number[]>;
  } = {},
): Promise<RobustAggregateResult> {
  const n = sources.length;
  const { plan: rule, f } = aggregationPlan(config, n);
  const pre = preAggregators(config, n, f);
  const ops = { ttlSeconds: opts.ttlSeconds, path: opts.path };
  const done = (weights?: number[]): RobustAggregateResult => ({ f, ...(weights ? { weights } : {}) });
  if (rule.kind === 'zeno') {
    if (!opts.zenoScores) throw new TensorError('aggregate: zeno needs its scoring function (the function invoker)');
    const scores = await opts.zenoScores(sources);
    if (scores.some((s) => !Number.isFinite(s)))
      throw new TensorError(`aggregate: an input of ${dest} has a non-finite value (its Zeno score is not finite)`);
    const weights = zenoWeights(scores, rule.b);
    await weightedSumTensors(redis, dest, sources, weights, ops);
    return done(weights);
  }
  if (rule.kind === 'coordinate' && pre.length === 0) {
    await aggregateTensors(redis, dest, rule.rule, sources, { ...ops, checkFinite: true });
    return done();
  }

  const gram = await gramTensors(redis, sources, { path: opts.path });
  try {
    checkGram(gram);
  } catch {
    throw new TensorError(`aggregate: an input of ${dest} has a non-finite value (NaN or Inf)`);
  }
  // Each pre-aggregator maps the current inputs to new ones; M holds them as weights over the sources.
  let mix: number[][] = gram.map((_, i) => gram.map((__, j) => (i === j ? 1 : 0)));
  for (const p of pre) {
    p.check(n);
    const next = p.mix(transformGram(gram, mix));
    mix = next.map((row) => composeWeights(row, mix));
  }
  const mixed: Gram = transformGram(gram, mix);
  if (rule.kind === 'vector') {
    rule.rule.check(n);
    const weights = composeWeights(rule.rule.weights(mixed), mix);
    await weightedSumTensors(redis, dest, sources, weights, ops);
    return done(weights);
  }
  // Bulyan, or a per-coordinate rule behind pre-aggregators: the (mixed) inputs it needs are written out
  // as temporary tensors in the database, then the per-coordinate kernel runs on them.
  const chosen = rule.kind === 'bulyan' ? bulyanSelect(mixed, rule.f).selected : mixed.map((_, i) => i);
  const coordinate = rule.kind === 'bulyan' ? { kind: 'meamed' as const, f: 2 * rule.f } : rule.rule;
  const identity = pre.length === 0;
  const temp = chosen.map((i) => (identity ? sources[i] : `${dest}:mixed:${i}`));
  if (!identity)
    await Promise.all(
      chosen.map((i, k) => weightedSumTensors(redis, temp[k], sources, mix[i], { ...ops, ttlSeconds: 600 })),
    );
  try {
    await aggregateTensors(redis, dest, coordinate, temp, { ...ops, checkFinite: true });
  } finally {
    if (!identity) await redis.unlink(...temp);
  }
  return done();
}
