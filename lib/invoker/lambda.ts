import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type { FunctionEvents, FunctionName, FunctionResults } from '../../lambdas/types';
import { FunctionError, type Invoker } from './types';

export interface LambdaInvokerOptions {
  region: string;
  /** Deployed function name per handler, e.g. `{ 'compute-gradient': 'spirt-compute-gradient' }`. */
  functionNames: Record<FunctionName, string>;
}

/** Invokes the handlers deployed as AWS Lambda functions (RequestResponse). */
export class LambdaInvoker implements Invoker {
  private readonly client: LambdaClient;

  constructor(private readonly opts: LambdaInvokerOptions) {
    this.client = new LambdaClient({ region: opts.region });
  }

  async invoke<K extends FunctionName>(fn: K, event: FunctionEvents[K]): Promise<FunctionResults[K]> {
    const out = await this.client.send(
      new InvokeCommand({
        FunctionName: this.opts.functionNames[fn],
        InvocationType: 'RequestResponse',
        Payload: Buffer.from(JSON.stringify(event)),
      }),
    );
    const text = out.Payload ? Buffer.from(out.Payload).toString('utf8') : 'null';
    if (out.FunctionError) {
      const error = JSON.parse(text) as { errorType?: string; errorMessage?: string };
      throw new FunctionError(fn, error.errorType ?? 'Error', error.errorMessage ?? 'lambda failed');
    }
    return JSON.parse(text) as FunctionResults[K];
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}
