import type { EvaluateEvent, EvaluateResult } from '../lib/protocol/functions';
import type { ActivityDeps } from './deps';
import { withHeartbeat } from './heartbeat';

/** Paper III.3.9: loss and accuracy of the peer's model on held-out data, through the evaluate function. */
export function makeEvaluateModel(deps: ActivityDeps) {
  return async function evaluateModel(event: EvaluateEvent): Promise<EvaluateResult> {
    return withHeartbeat(() => deps.invoker.invoke('evaluate', event));
  };
}
