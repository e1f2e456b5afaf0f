import { runKeys } from '../lib/redis/keys';
import type { RunConfig } from '../lib/config/schema';
import { aggregateTensors, averageTensors, sgdUpdate, type TensorOpsPath } from '../lib/redis/tensor-ops';
import { aggregationRule } from './aggregation-rule';
import type { ActivityDeps } from './deps';

export interface AggregateAndUpdateInput {
  run: string;
  epoch: number;
  step: number;
  /** Peers whose averaged gradients take part (this one included). */
  peers: string[];
  hasBuffers: boolean;
  lr: number;
  momentum: number;
  weightDecay: number;
  ttlSeconds: number;
  /** In-database path (module, Lua or client). */
  path: TensorOpsPath;
  aggregation: RunConfig['aggregation'];
  byzantineF: number;
}

/**
 * Fetches the other peers' averaged gradients into this peer's Redis, aggregates them there per
 * coordinate with the run's rule (NaN/Inf from any peer rejected),
 * and applies the SGD update to the parameters in place, once per step even when retried. Batch-norm
 * buffers become the peers' mean.
 */
export function makeAggregateAndUpdate(deps: ActivityDeps) {
  return async function aggregateAndUpdate(input: AggregateAndUpdateInput): Promise<{ peers: number; ms: number }> {
    const started = Date.now();
    const keys = runKeys(input.run);
    const own = await deps.directory.connection(deps.peerId);
    const { epoch, step } = input;
    const copy = async (peer: string, srcKey: string, dstKey: string) => {
      const remote = await deps.directory.connection(peer);
      const blob = await remote.getBuffer(srcKey);
      if (!blob) throw new Error(`peer ${peer} has no ${srcKey}`);
      await own.set(dstKey, blob, 'EX', input.ttlSeconds);
    };
    const sources = (kind: 'grad' | 'bufs') =>
      input.peers.map((peer) => {
        if (peer === deps.peerId)
          return kind === 'grad' ? keys.averagedGradient(epoch, step) : keys.averagedBuffers(epoch, step);
        return kind === 'grad' ? keys.peerGradient(epoch, step, peer) : keys.peerBuffers(epoch, step, peer);
      });
    // A retry after a failure past the update (buffers, metrics) must not apply the update twice.
    const stepId = `${epoch}:${step}`;
    if ((await own.get(keys.appliedStep)) !== stepId) {
      await Promise.all(
        input.peers
          .filter((peer) => peer !== deps.peerId)
          .flatMap((peer) => [
            copy(peer, keys.averagedGradient(epoch, step), keys.peerGradient(epoch, step, peer)),
            ...(input.hasBuffers
              ? [copy(peer, keys.averagedBuffers(epoch, step), keys.peerBuffers(epoch, step, peer))]
              : []),
          ]),
      );
      const aggregated = keys.aggregatedGradient(epoch, step);
      const rule = aggregationRule(input.aggregation, input.byzantineF, input.peers.length);
      await aggregateTensors(own, aggregated, rule, sources('grad'), {
        ttlSeconds: input.ttlSeconds,
        path: input.path,
        checkFinite: true,
      });
      await sgdUpdate(
        own,
        keys.params,
        aggregated,
        {
          lr: input.lr,
          momentum: input.momentum,
          momentumKey: keys.momentum,
          weightDecay: input.weightDecay,
        },
        { path: input.path },
      );
      await own.set(keys.appliedStep, stepId);
    }
    if (input.hasBuffers) await averageTensors(own, keys.buffers, sources('bufs'), { path: input.path });
    const ms = Date.now() - started;
    await own.xadd(
      keys.metricsStream,
      'MAXLEN',
      '~',
      '10000',
      '*',
      'epoch',
      String(epoch),
      'step',
      String(step),
      'updateMs',
      String(ms),
    );
    return { peers: input.peers.length, ms };
  };
}
