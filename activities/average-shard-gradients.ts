import { averageTensors } from '../lib/redis/tensor-ops';
import { runKeys } from '../lib/redis/keys';
import type { ActivityDeps } from './deps';
import { loadPlan } from './run-plan';

export interface AverageShardGradientsInput {
  run: string;
  epoch: number;
  step: number;
  /** Function calls of this step (own shards, taken-over units and catch-up batches). */
  shards: number;
}

/** Paper III.3.4: averages this step's shard gradients (and updated buffers) inside the peer's Redis. */
export function makeAverageShardGradients(deps: ActivityDeps) {
  return async function averageShardGradients(
    input: AverageShardGradientsInput,
  ): Promise<{ length: number; ms: number }> {
    const started = Date.now();
    const keys = runKeys(input.run);
    const plan = await loadPlan(deps, input.run);
    const redis = await deps.directory.connection(deps.peerId);
    const shards = Array.from({ length: input.shards }, (_, s) => s);
    const { length } = await averageTensors(
      redis,
      keys.averagedGradient(input.epoch, input.step),
      shards.map((s) => keys.shardGradient(input.epoch, input.step, s)),
      { ttlSeconds: plan.ttlSeconds, path: plan.path },
    );
    if (plan.hasBuffers) {
      await averageTensors(
        redis,
        keys.averagedBuffers(input.epoch, input.step),
        shards.map((s) => keys.shardBuffers(input.epoch, input.step, s)),
        { ttlSeconds: plan.ttlSeconds, path: plan.path },
      );
    }
    return { length, ms: Date.now() - started };
  };
}
