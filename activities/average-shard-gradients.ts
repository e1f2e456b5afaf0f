import { averageTensors, type TensorOpsPath } from '../lib/redis/tensor-ops';
import { runKeys } from '../lib/redis/keys';
import type { ActivityDeps } from './deps';

export interface AverageShardGradientsInput {
  run: string;
  epoch: number;
  step: number;
  shards: number;
  hasBuffers: boolean;
  ttlSeconds: number;
  /** In-database path (module, Lua or client). */
  path: TensorOpsPath;
}

/** Averages this step's shard gradients (and updated buffers) inside the peer's Redis. */
export function makeAverageShardGradients(deps: ActivityDeps) {
  return async function averageShardGradients(
    input: AverageShardGradientsInput,
  ): Promise<{ length: number; ms: number }> {
    const started = Date.now();
    const keys = runKeys(input.run);
    const redis = await deps.directory.connection(deps.peerId);
    const shards = Array.from({ length: input.shards }, (_, s) => s);
    const { length } = await averageTensors(
      redis,
      keys.averagedGradient(input.epoch, input.step),
      shards.map((s) => keys.shardGradient(input.epoch, input.step, s)),
      { ttlSeconds: input.ttlSeconds, path: input.path },
    );
    if (input.hasBuffers) {
      await averageTensors(
        redis,
        keys.averagedBuffers(input.epoch, input.step),
        shards.map((s) => keys.shardBuffers(input.epoch, input.step, s)),
        { ttlSeconds: input.ttlSeconds, path: input.path },
      );
    }
    return { length, ms: Date.now() - started };
  };
}
