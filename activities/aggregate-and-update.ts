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
    // Per tensor kind: this peer's own average, and where another peer's average is copied to.
    const kinds = {
      grad: { own: keys.averagedGradient, fromPeer: keys.peerGradient },
      bufs: { own: keys.averagedBuffers, fromPeer: keys.peerBuffers },
    };
    const used = input.hasBuffers ? (['grad', 'bufs'] as const) : (['grad'] as const);
    const sources = (kind: keyof typeof kinds) =>
      input.peers.map((peer) =>
        peer === deps.peerId ? kinds[kind].own(epoch, step) : kinds[kind].fromPeer(epoch, step, peer),
      );
    const others = input.peers.filter((peer) => peer !== deps.peerId);
    // A retry after a failure past the update (buffers, metrics) must not apply the update twice.
    const stepId = `${epoch}:${step}`;
    if ((await own.get(keys.appliedStep)) !== stepId) {
      await Promise.all(
        others.flatMap((peer) =>
          used.map((kind) => copy(peer, kinds[kind].own(epoch, step), kinds[kind].fromPeer(epoch, step, peer))),
        ),
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
          // The aggregate was just checked for NaN/Inf and the parameters stay finite by induction:
          // skip the extra pass over params, gradient and momentum.
          checkFinite: false,
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
