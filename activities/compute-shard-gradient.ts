import { trace } from '../lib/log/trace';
import type { ComputeGradientEvent, ComputeGradientResult } from '../lib/protocol/functions';
import type { ActivityDeps } from './deps';
import { withHeartbeat } from './heartbeat';

/** Paper III.3.3: runs compute-gradient for one shard through the invoker (local pool or Lambda). */
export function makeComputeShardGradient(deps: ActivityDeps) {
  return async function computeShardGradient(event: ComputeGradientEvent): Promise<ComputeGradientResult> {
    trace(deps.peerId, 'call', event.step, { shard: event.shard });
    const r = await withHeartbeat(() => deps.invoker.invoke('compute-gradient', event));
    trace(deps.peerId, 'called', event.step, { shard: event.shard });
    return r;
  };
}
