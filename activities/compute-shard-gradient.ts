import type { ComputeGradientEvent, ComputeGradientResult } from '../lib/protocol/functions';
import type { ActivityDeps } from './deps';
import { withHeartbeat } from './heartbeat';

/** Paper III.3.3: runs compute-gradient for one shard through the invoker (local pool or Lambda). */
export function makeComputeShardGradient(deps: ActivityDeps) {
  return async function computeShardGradient(event: ComputeGradientEvent): Promise<ComputeGradientResult> {
    return withHeartbeat(() => deps.invoker.invoke('compute-gradient', event));
  };
}
