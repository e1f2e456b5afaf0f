import { handlers } from '../../lambdas';
import { closeRuntime, configurePeerRedis } from '../../lambdas/runtime';
import type { FunctionEvents, FunctionName, FunctionResults } from '../../lambdas/types';
import type { RedisEndpoint } from '../redis/connect';
import type { Invoker } from './types';

/** Runs handlers in the calling process (one peer per process): for tests and debugging. */
export class InlineInvoker implements Invoker {
  constructor(redis: RedisEndpoint) {
    configurePeerRedis(redis);
  }

  invoke<K extends FunctionName>(fn: K, event: FunctionEvents[K]): Promise<FunctionResults[K]> {
    const handler = handlers[fn] as (e: FunctionEvents[K]) => Promise<FunctionResults[K]>;
    return handler(event);
  }

  close(): Promise<void> {
    return closeRuntime();
  }
}
