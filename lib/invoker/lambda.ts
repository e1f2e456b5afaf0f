import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type { FunctionEnvelope, FunctionEvents, FunctionName, FunctionResults } from '../protocol/functions';
import { FunctionConfigError } from '../errors/function-config-error';
import { FunctionError, type Invoker } from './types';

type LambdaSend = Pick<LambdaClient, 'send' | 'destroy'>;

export interface LambdaInvokerOptions {
  region: string;
  /** Deployed function name per handler, e.g. `{ 'compute-gradient': 'spirt-net-p1-compute-gradient' }`. */
  functionNames: Record<FunctionName, string>;
  /** Endpoint override for all functions (a VPC endpoint), or per function (one emulator each in tests). */
  endpoint?: string | Partial<Record<FunctionName, string>>;
  /** Client settings (credentials) for the clients this invoker makes. */
  clientConfig?: Omit<ConstructorParameters<typeof LambdaClient>[0] & object, 'region' | 'endpoint'>;
  /** A preconfigured client for every function (tests). */
  client?: LambdaSend;
  /**
   * Wraps each request in this envelope (the peer, its Redis endpoint and its KMS-sealed credential); without
   * it the request is sent bare (functions that read their Redis from their environment).
   */
  envelope?: () => Promise<Omit<FunctionEnvelope, 'request'>>;
}

/** Lambda service errors a retry cannot fix: the function or its configuration is wrong. */
const CONFIGURATION_ERRORS = new Set([
  'ResourceNotFoundException',
  'InvalidParameterValueException',
  'InvalidRequestContentException',
  'RequestTooLargeException',
  'AccessDeniedException',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'KMSAccessDeniedException',
  'KMSNotFoundException',
  'InvalidRuntimeException',
]);

/**
 * Invokes the handlers deployed as AWS Lambda functions (RequestResponse). An error thrown by the handler
 * comes back as a FunctionError named after the handler's error (so TensorError, DataError... stay
 * non-retryable); a configuration error of the Lambda service becomes a FunctionError named
 * `FunctionConfigError` (non-retryable); throttling and service errors are rethrown as they are (retried).
 */
export class LambdaInvoker implements Invoker {
  private readonly clients = new Map<string, LambdaSend>();

  constructor(private readonly opts: LambdaInvokerOptions) {}

  private clientFor(fn: FunctionName): LambdaSend {
    if (this.opts.client) return this.opts.client;
    const endpoint = typeof this.opts.endpoint === 'string' ? this.opts.endpoint : this.opts.endpoint?.[fn];
    const key = endpoint ?? '';
    let client = this.clients.get(key);
    if (!client) {
      client = new LambdaClient({
        ...this.opts.clientConfig,
        region: this.opts.region,
        ...(endpoint ? { endpoint } : {}),
      });
      this.clients.set(key, client);
    }
    return client;
  }

  async invoke<K extends FunctionName>(fn: K, event: FunctionEvents[K]): Promise<FunctionResults[K]> {
    const payload = this.opts.envelope ? { ...(await this.opts.envelope()), request: event } : event;
    let out;
    try {
      out = await this.clientFor(fn).send(
        new InvokeCommand({
          FunctionName: this.opts.functionNames[fn],
          InvocationType: 'RequestResponse',
          Payload: Buffer.from(JSON.stringify(payload)),
        }),
      );
    } catch (err) {
      const name = (err as Error).name;
      if (CONFIGURATION_ERRORS.has(name))
        throw new FunctionError(fn, FunctionConfigError.name, `${name}: ${(err as Error).message}`);
      throw err;
    }
    const text = out.Payload ? Buffer.from(out.Payload).toString('utf8') : 'null';
    if (out.FunctionError) {
      let error: { errorType?: string; errorMessage?: string } = {};
      try {
        error = JSON.parse(text) as typeof error;
      } catch {
        error = { errorMessage: text.slice(0, 500) };
      }
      throw new FunctionError(fn, error.errorType ?? 'Error', error.errorMessage ?? 'lambda failed');
    }
    return JSON.parse(text) as FunctionResults[K];
  }

  async close(): Promise<void> {
    for (const c of this.clients.values()) c.destroy();
    this.opts.client?.destroy();
  }
}
