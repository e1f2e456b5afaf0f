import type { StepRelease } from '../lib/protocol/types';
import { runKeys, type RunKeys } from '../lib/redis/keys';
import { averageTensors } from '../lib/redis/tensor-ops';
import type { ActivityDeps } from './deps';
import { applyGradientOnce, applyOwnGradient, applySync } from './local-steps';
import { loadPlan } from './run-plan';

export interface ApplyUpdateInput {
  run: string;
  epoch: number;
  step: number;
  /** Peers whose buffers (batch-norm statistics) are averaged into the model's; the aggregation's peers. */
  peers: string[];
  lr: number;
  momentum: number;
  weightDecay: number;
  /** Step metrics recorded with the update (phase durations so far). */
  timings?: Record<string, number>;
  /** Peer gradients left out of this step's aggregation, and why: recorded with the step's metrics. */
  dropped?: { peer: string; reason: string }[];
  /**
   * The previous step's working tensors and the published average of the step before it, deleted after this
   * update: a retried or replayed update of this step still finds its own inputs, and a replayed earlier step
   * computes and copies them again (a copy whose source is gone is dropped; its update was applied already).
   */
  release?: StepRelease;
  /** Function calls of this step that took more than one attempt (fused step): recorded with the metrics. */
  retries?: { shard: number; attempts: number }[];
  /** Function calls of this step adopted from the previous epoch's last chain (activities/prestart.ts): recorded with the metrics. */
  prestarted?: number;
  /**
   * `step` (default): SGD with the aggregate. Local SGD (syncEvery > 1): `local` applies this peer's own
   * average; `sync` sets the model to the anchor minus lr x the aggregate of the peers' changes.
   */
  mode?: 'step' | 'local' | 'sync';
}

/**
 * Paper III.3.8: applies SGD with momentum to the parameters in place, inside Redis, once per step even when
 * retried (an applied-step marker); batch-norm buffers become the peers' mean. Appends the step's timings to
 * the metrics stream.
 */
export function makeApplyUpdate(deps: ActivityDeps) {
  return async function applyUpdate(input: ApplyUpdateInput): Promise<{ applied: boolean; ms: number }> {
    const started = Date.now();
    const keys = runKeys(input.run);
    const plan = await loadPlan(deps, input.run);
    const own = await deps.directory.connection(deps.peerId);
    const { epoch, step } = input;
    const mode = input.mode ?? 'step';
    const sgd = { lr: input.lr, momentum: input.momentum, weightDecay: input.weightDecay };
    // Independent of the parameters' update, so sent with its first command (one round trip): the buffers'
    // average (idempotent: the same sources on a retry) and the release of the earlier steps' tensors (not
    // inputs of this step).
    const side = Promise.all([
      plan.hasBuffers
        ? averageTensors(
            own,
            keys.buffers,
            input.peers.map((peer) =>
              peer === deps.peerId ? keys.averagedBuffers(epoch, step) : keys.peerBuffers(epoch, step, peer),
            ),
            { path: plan.path },
          )
        : null,
      input.release ? own.unlink(...releasedKeys(keys, deps.peerId, input.release)) : null,
    ]);
    side.catch(() => undefined); // awaited below; handled here too in case the update throws first
    const applied = await (mode === 'local'
      ? applyOwnGradient(own, keys, plan, epoch, step, sgd)
      : mode === 'sync'
        ? applySync(own, keys, plan, epoch, step, input.lr)
        : applyGradientOnce(own, keys, plan, epoch, step, sgd, keys.aggregatedGradient(epoch, step)));
    await side;
    const ms = Date.now() - started;
    const timings = { ...(input.timings ?? {}), update: ms };
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
      'timings',
      JSON.stringify(timings),
      ...(input.dropped?.length ? ['dropped', JSON.stringify(input.dropped)] : []),
      ...(input.retries?.length ? ['retries', JSON.stringify(input.retries)] : []),
      ...(input.prestarted ? ['prestarted', String(input.prestarted)] : []),
    );
    return { applied, ms };
  };
}

/** The keys a StepRelease names (StepRelease in lib/protocol/types.ts). */
export function releasedKeys(keys: RunKeys, self: string, r: StepRelease): string[] {
  const { epoch, step } = r;
  const shards = Array.from({ length: r.shards }, (_, i) => i);
  const others = r.peers.filter((p) => p !== self);
  return [
    ...shards.flatMap((i) => [keys.shardGradient(epoch, step, i, self), keys.shardBuffers(epoch, step, i, self)]),
    ...others.flatMap((p) => [keys.peerGradient(epoch, step, p), keys.peerBuffers(epoch, step, p)]),
    keys.aggregatedGradient(epoch, step),
    ...(r.published
      ? [
          keys.averagedGradient(...r.published),
          keys.averagedBuffers(...r.published),
          keys.averagedSignature(...r.published),
        ]
      : []),
  ];
}
