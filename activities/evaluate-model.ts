import type { EvaluateEvent, EvaluateResult } from '../lambdas/types';
import type { ActivityDeps } from './deps';

/** Loss and accuracy of the peer's model on held-out data, through the evaluate function. */
export function makeEvaluateModel(deps: ActivityDeps) {
  return async function evaluateModel(event: EvaluateEvent): Promise<EvaluateResult> {
    return deps.invoker.invoke('evaluate', event);
  };
}
