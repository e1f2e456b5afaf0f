import { bulyanSelect } from '../lib/aggregation/bulyan';
import { checkGram, composeWeights, transformGram, type Gram } from '../lib/aggregation/gram';
import { aggregationPlan, preAggregators, type RobustConfig } from '../lib/aggregation/rule';
import { TensorError } from '../lib/errors/tensor-error';
import { runKeys } from '../lib/redis/keys';
import { aggregateTensors, gramTensors, weightedSumTensors } from '../lib/redis/tensor-ops';
import type { ActivityDeps } from './deps';
import { loadPlan } from './run-plan';

export interface AggregateGradientsInput extends RobustConfig {
  run: string;
  epoch: number;
  step: number;
  /** Peers whose averaged gradients take part (this one included, if it computed). */
  peers: string[];
}

export interface AggregateGradientsResult {
  peers: number;
  ms: number;
  /** The f the rule used (lowered when fewer peers took part than the rule needs). */
  f: number;
  /** Weight of each peer's gradient in the result, for rules that decide by weights (Krum, GeoMed, ...). */
  weights?: Record<string, number>;
}

/**
 * Paper III.3.7 (second half): combines the peers' averaged gradients inside this peer's Redis with the
 * run's rule into `grad:<epoch>:<step>:agg`; no gradient leaves the database. Per-coordinate rules run as
 * one kernel. Distance-based rules and pre-aggregators decide on the inputs' Gram matrix (computed in the
 * database, n x n numbers) and the result is a weighted sum computed in the database. NaN/Inf from any peer
 * is rejected. Idempotent.
 */
export function makeAggregateGradients(deps: ActivityDeps) {
  return async function aggregateGradients(input: AggregateGradientsInput): Promise<AggregateGradientsResult> {
    const started = Date.now();
    const keys = runKeys(input.run);
    const plan = await loadPlan(deps, input.run);
    const own = await deps.directory.connection(deps.peerId);
    const { epoch, step } = input;
    const sources = input.peers.map((peer) =>
      peer === deps.peerId ? keys.averagedGradient(epoch, step) : keys.peerGradient(epoch, step, peer),
    );
    const dest = keys.aggregatedGradient(epoch, step);
    const n = sources.length;
    const { plan: rule, f } = aggregationPlan(input, n);
    const pre = preAggregators(input, n, f);
    const ops = { ttlSeconds: plan.ttlSeconds, path: plan.path };
    const done = (weights?: number[]): AggregateGradientsResult => ({
      peers: n,
      ms: Date.now() - started,
      f,
      ...(weights ? { weights: Object.fromEntries(input.peers.map((p, i) => [p, weights[i]])) } : {}),
    });
    if (rule.kind === 'coordinate' && pre.length === 0) {
      await aggregateTensors(own, dest, rule.rule, sources, { ...ops, checkFinite: true });
      return done();
    }

    const gram = await gramTensors(own, sources, { path: plan.path });
    try {
      checkGram(gram);
    } catch {
      throw new TensorError(`aggregate: a peer gradient of step ${epoch}:${step} has a non-finite value (NaN or Inf)`);
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
      await weightedSumTensors(own, dest, sources, weights, ops);
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
        chosen.map((i, k) => weightedSumTensors(own, temp[k], sources, mix[i], { ...ops, ttlSeconds: 600 })),
      );
    try {
      await aggregateTensors(own, dest, coordinate, temp, { ...ops, checkFinite: true });
    } finally {
      if (!identity) await own.unlink(...temp);
    }
    return done();
  };
}
