import { trace } from '../lib/log/trace';
import type { ComputeGradientEvent, ComputeGradientResult } from '../lib/protocol/functions';
import type { ActivityDeps } from './deps';
import { withHeartbeat } from './heartbeat';

/** One compute-gradient call through the invoker (local pool or Lambda), traced; no activity context needed. */
export async function callComputeGradient(
  deps: ActivityDeps,
  event: ComputeGradientEvent,
): Promise<ComputeGradientResult> {
  trace(deps.peerId, 'call', event.step, { shard: event.shard });
  const r = await deps.invoker.invoke('compute-gradient', event);
  trace(deps.peerId, 'called', event.step, { shard: event.shard });
  return r;
}

/** Paper III.3.3: runs compute-gradient for one shard, heartbeating while it runs as a regular activity. */
export function makeComputeShardGradient(deps: ActivityDeps) {
  return async function computeShardGradient(event: ComputeGradientEvent): Promise<ComputeGradientResult> {
    return withHeartbeat(() => callComputeGradient(deps, event));
  };
}
