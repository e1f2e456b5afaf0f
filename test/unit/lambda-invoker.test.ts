import { LambdaInvoker } from '../../lib/invoker/lambda';
import { lambdaSettingsFromEnv } from '../../lib/stack/peer-config';
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

  it('is chosen by SPIRT_FUNCTIONS=lambda, with every setting a deployed unit gives', () => {
    expect(lambdaSettingsFromEnv({})).toBeNull();
    expect(lambdaSettingsFromEnv({ SPIRT_FUNCTIONS: 'local' })).toBeNull();
    expect(() => lambdaSettingsFromEnv({ SPIRT_FUNCTIONS: 'aws' })).toThrow(/use lambda or local/);
    expect(() => lambdaSettingsFromEnv({ SPIRT_FUNCTIONS: 'lambda', AWS_REGION: 'us-east-1' })).toThrow(
      /needs SPIRT_KMS_KEY_ID, SPIRT_LAMBDA_COMPUTE_GRADIENT, SPIRT_LAMBDA_EVALUATE, SPIRT_LAMBDA_ZENO_SCORES$/,
    );
    const env = {
      SPIRT_FUNCTIONS: 'lambda',
      AWS_REGION: 'eu-west-1',
      SPIRT_KMS_KEY_ID: 'arn:aws:kms:eu-west-1:1:key/k',
      SPIRT_LAMBDA_COMPUTE_GRADIENT: 'spirt-n-p1-compute-gradient',
      SPIRT_LAMBDA_EVALUATE: 'spirt-n-p1-evaluate',
      SPIRT_LAMBDA_ZENO_SCORES: 'spirt-n-p1-zeno-scores',
    };
    expect(lambdaSettingsFromEnv(env)).toEqual({
      region: 'eu-west-1',
      kmsKeyId: 'arn:aws:kms:eu-west-1:1:key/k',
      functionNames: {
        'compute-gradient': 'spirt-n-p1-compute-gradient',
        evaluate: 'spirt-n-p1-evaluate',
        'zeno-scores': 'spirt-n-p1-zeno-scores',
      },
    });
  });
});
