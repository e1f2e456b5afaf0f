import { makeAggregateAndUpdate } from './aggregate-and-update';
import { makeAverageShardGradients } from './average-shard-gradients';
import { makeAwaitPeersReady } from './await-peers-ready';
import { makeComputeShardGradient } from './compute-shard-gradient';
import type { ActivityDeps } from './deps';
import { makeEvaluateModel } from './evaluate-model';
import { makePreparePeer } from './prepare-peer';
import { makePublishReady } from './publish-ready';

export { PeerDirectory, type ActivityDeps } from './deps';

/** All activities of one peer's worker, sharing its clients (built once per worker). */
export function createActivities(deps: ActivityDeps) {
  return {
    preparePeer: makePreparePeer(deps),
    computeShardGradient: makeComputeShardGradient(deps),
    averageShardGradients: makeAverageShardGradients(deps),
    publishReady: makePublishReady(deps),
    awaitPeersReady: makeAwaitPeersReady(deps),
    aggregateAndUpdate: makeAggregateAndUpdate(deps),
    evaluateModel: makeEvaluateModel(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
