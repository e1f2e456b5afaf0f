import type { ComputeGradientEvent, ComputeGradientResult } from '../lambdas/types';
import type { ActivityDeps } from './deps';

/** Runs compute-gradient for one shard through the invoker (local pool or Lambda). */
export function makeComputeShardGradient(deps: ActivityDeps) {
  return async function computeShardGradient(event: ComputeGradientEvent): Promise<ComputeGradientResult> {
    return deps.invoker.invoke('compute-gradient', event);
  };
}
