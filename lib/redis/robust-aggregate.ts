// Runs a step's aggregation rule inside one Redis (ARCHITECTURE.md section 7): per-coordinate rules as one
// kernel; distance-based rules and pre-aggregators decided on the inputs' Gram matrix (computed in the
// database) and written as a weighted sum (in the database). No gradient leaves the server.
import type Redis from 'ioredis';
import { decideOnGram, wantsAnchor } from '../aggregation/decide';
import { checkGram } from '../aggregation/gram';
import { aggregationPlan, type RobustConfig } from '../aggregation/rule';
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
    /**
     * The start point of an anchored rule (centered clipping): `scale` x the tensor at `key`, the SGD
     * momentum buffer with scale 1 - momentum. Ignored by the other rules; a missing key means start from 0.
     */
    anchor?: { key: string; scale: number };
  } = {},
): Promise<RobustAggregateResult> {
  const n = sources.length;
  const { plan: rule, f } = aggregationPlan(config, n);
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
  if (rule.kind === 'coordinate' && (config.preAggregation ?? []).length === 0) {
    await aggregateTensors(redis, dest, rule.rule, sources, { ...ops, checkFinite: true });
    return done();
  }

  // Centered clipping starts from the anchor (the previous aggregate): its Gram row comes with the inputs'.
  const anchor = wantsAnchor(rule) && opts.anchor && (await redis.exists(opts.anchor.key)) === 1 ? opts.anchor : null;
  const keys = anchor ? [...sources, anchor.key] : sources;
  const gram = await gramTensors(redis, keys, { path: opts.path });
  try {
    checkGram(gram);
  } catch {
    throw new TensorError(`aggregate: an input of ${dest} has a non-finite value (NaN or Inf)`);
  }
  const decision = decideOnGram(config, rule, f, gram, anchor ? anchor.scale : null);
  if (decision.kind === 'weighted') {
    await weightedSumTensors(redis, dest, keys, decision.weights, ops);
    return done(decision.weights.slice(0, n));
  }
  // Bulyan, or a per-coordinate rule behind pre-aggregators: the (mixed) inputs it needs are written out
  // as temporary tensors in the database, then the per-coordinate kernel runs on them.
  const { chosen, mix } = decision;
  const temp = chosen.map((i) => (mix === null ? sources[i] : `${dest}:mixed:${i}`));
  if (mix !== null)
    await Promise.all(
      chosen.map((i, k) => weightedSumTensors(redis, temp[k], sources, mix[i], { ...ops, ttlSeconds: 600 })),
    );
  try {
    await aggregateTensors(redis, dest, decision.rule, temp, { ...ops, checkFinite: true });
  } finally {
    if (mix !== null) await redis.unlink(...temp);
  }
  return done();
}
