import type { RobustConfig } from '../lib/aggregation/rule';
import { runKeys } from '../lib/redis/keys';
import { robustAggregate } from '../lib/redis/robust-aggregate';
import type { ActivityDeps } from './deps';
import { loadPlan } from './run-plan';

export interface AggregateGradientsInput extends Partial<RobustConfig> {
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
    // The run plan holds the rule (written once by preparePeer); fields given here override it (tests).
    const { run: _run, epoch: _epoch, step: _step, peers: _peers, ...overrides } = input;
    const robust: RobustConfig = { aggregation: 'mean', byzantineF: 0, ...plan.robust, ...overrides };
    const out = await robustAggregate(own, dest, sources, robust, {
      ttlSeconds: plan.ttlSeconds,
      path: plan.path,
      // Centered clipping's start point: the previous aggregate, as (1 - momentum) x the momentum buffer.
      ...(robust.momentum !== undefined ? { anchor: { key: keys.momentum, scale: 1 - robust.momentum } } : {}),
      zenoScores: async (candidates) =>
        (
          await deps.invoker.invoke('zeno-scores', {
            run: input.run,
            epoch,
            step,
            candidates,
            lr: robust.learningRate ?? 0.01,
            rho: robust.zenoRho ?? 0.0005,
            batch: robust.zenoBatch ?? 64,
          })
        ).scores,
    });
    const w = out.weights;
    return {
      peers: sources.length,
      ms: Date.now() - started,
      f: out.f,
      ...(w ? { weights: Object.fromEntries(input.peers.map((p, i) => [p, w[i]])) } : {}),
    };
  };
}
