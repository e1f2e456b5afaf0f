import { LambdaInvoker, lambdaInvokerFromEnv } from '../../lib/invoker/lambda';
import type { EvaluateEvent } from '../../lib/protocol/functions';

// A stand-in for the AWS client (unit test of the payload and error mapping; no AWS here).
function fakeClient(reply: { Payload?: Uint8Array; FunctionError?: string }) {
  const sent: unknown[] = [];
  return {
    sent,
    client: {
      send: async (command: { input: unknown }) => {
        sent.push(command.input);
        return reply;
      },
      destroy: () => undefined,
    },
  };
}

const event: EvaluateEvent = { run: 'r1' };

describe('LambdaInvoker', () => {
  it('invokes the configured function with the JSON event and parses the result', async () => {
    const fake = fakeClient({ Payload: Buffer.from(JSON.stringify({ loss: 0.1, accuracy: 0.9, count: 10, ms: 5 })) });
    const invoker = new LambdaInvoker({
      region: 'eu-west-1',
      functionNames: { 'compute-gradient': 'cg', evaluate: 'ev', 'zeno-scores': 'zs' },
      client: fake.client as never,
    });
    await expect(invoker.invoke('evaluate', event)).resolves.toEqual({ loss: 0.1, accuracy: 0.9, count: 10, ms: 5 });
    const input = fake.sent[0] as { FunctionName: string; InvocationType: string; Payload: Uint8Array };
    expect(input.FunctionName).toBe('ev');
    expect(input.InvocationType).toBe('RequestResponse');
    expect(JSON.parse(Buffer.from(input.Payload).toString())).toEqual(event);
  });

  it("turns a function error into an error carrying the function's error type", async () => {
    const payload = Buffer.from(JSON.stringify({ errorType: 'TensorError', errorMessage: 'bad length' }));
    const invoker = new LambdaInvoker({
      region: 'eu-west-1',
      functionNames: { 'compute-gradient': 'cg', evaluate: 'ev', 'zeno-scores': 'zs' },
      client: fakeClient({ Payload: payload, FunctionError: 'Unhandled' }).client as never,
    });
    await expect(invoker.invoke('evaluate', event)).rejects.toMatchObject({
      name: 'TensorError',
      message: 'bad length',
    });
  });

  it('is chosen by SPIRT_FUNCTIONS=lambda and needs a region', () => {
    expect(lambdaInvokerFromEnv({})).toBeNull();
    expect(() => lambdaInvokerFromEnv({ SPIRT_FUNCTIONS: 'lambda' })).toThrow(/AWS_REGION/);
    expect(lambdaInvokerFromEnv({ SPIRT_FUNCTIONS: 'lambda', AWS_REGION: 'us-east-1' })).toBeInstanceOf(LambdaInvoker);
  });
});
