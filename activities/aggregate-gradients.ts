import type { RunConfig } from '../lib/config/schema';
import { aggregationRule } from '../lib/aggregation/rule';
import { runKeys } from '../lib/redis/keys';
import { aggregateTensors } from '../lib/redis/tensor-ops';
import type { ActivityDeps } from './deps';
import { loadPlan } from './run-plan';

export interface AggregateGradientsInput {
  run: string;
  epoch: number;
  step: number;
  /** Peers whose averaged gradients take part (this one included, if it computed). */
  peers: string[];
  aggregation: RunConfig['aggregation'];
  byzantineF: number;
}

/**
 * Paper III.3.7 (second half): combines the peers' averaged gradients inside this peer's Redis with the run's
 * rule (NaN/Inf from any peer rejected) into `grad:<epoch>:<step>:agg`. Idempotent.
 */
export function makeAggregateGradients(deps: ActivityDeps) {
  return async function aggregateGradients(input: AggregateGradientsInput): Promise<{ peers: number; ms: number }> {
    const started = Date.now();
    const keys = runKeys(input.run);
    const plan = await loadPlan(deps, input.run);
    const own = await deps.directory.connection(deps.peerId);
    const { epoch, step } = input;
    const sources = input.peers.map((peer) =>
      peer === deps.peerId ? keys.averagedGradient(epoch, step) : keys.peerGradient(epoch, step, peer),
    );
    const rule = aggregationRule(input.aggregation, input.byzantineF, input.peers.length);
    await aggregateTensors(own, keys.aggregatedGradient(epoch, step), rule, sources, {
      ttlSeconds: plan.ttlSeconds,
      path: plan.path,
      checkFinite: true,
    });
    return { peers: input.peers.length, ms: Date.now() - started };
  };
}
