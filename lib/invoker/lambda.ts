import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type { FunctionEvents, FunctionName, FunctionResults } from '../protocol/functions';
import { FunctionError, type Invoker } from './types';

export interface LambdaInvokerOptions {
  region: string;
  /** Deployed function name per handler, e.g. `{ 'compute-gradient': 'spirt-compute-gradient' }`. */
  functionNames: Record<FunctionName, string>;
  /** A preconfigured client (credentials, endpoint). @default new LambdaClient({ region }) */
  client?: Pick<LambdaClient, 'send' | 'destroy'>;
}

/**
 * Invokes the handlers deployed as AWS Lambda functions (RequestResponse). The functions reach the
 * peer's Redis through their own environment (SPIRT_REDIS_HOST / _PORT / _PASSWORD); events carry no secrets.
 */
export class LambdaInvoker implements Invoker {
  private readonly client: Pick<LambdaClient, 'send' | 'destroy'>;

  constructor(private readonly opts: LambdaInvokerOptions) {
    this.client = opts.client ?? new LambdaClient({ region: opts.region });
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

/**
 * The invoker a peer worker uses: AWS Lambda when `SPIRT_FUNCTIONS=lambda` (region from
 * `AWS_REGION`, function names from `SPIRT_LAMBDA_COMPUTE_GRADIENT` / `SPIRT_LAMBDA_EVALUATE`,
 * default `spirt-compute-gradient` / `spirt-evaluate`), else null (use the local pool).
 */
export function lambdaInvokerFromEnv(env: NodeJS.ProcessEnv = process.env): LambdaInvoker | null {
  if (env.SPIRT_FUNCTIONS !== 'lambda') return null;
  if (!env.AWS_REGION) throw new Error('SPIRT_FUNCTIONS=lambda needs AWS_REGION');
  return new LambdaInvoker({
    region: env.AWS_REGION,
    functionNames: {
      'compute-gradient': env.SPIRT_LAMBDA_COMPUTE_GRADIENT ?? 'spirt-compute-gradient',
      evaluate: env.SPIRT_LAMBDA_EVALUATE ?? 'spirt-evaluate',
      'zeno-scores': env.SPIRT_LAMBDA_ZENO_SCORES ?? 'spirt-zeno-scores',
    },
  });
}
