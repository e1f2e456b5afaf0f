import { MockActivityEnvironment } from '@temporalio/testing';
import { PeerDirectory } from '../../activities';
import { makePreparePeer, type PreparePeerInput, type PreparePeerResult } from '../../activities/prepare-peer';
import type { Invoker } from '../../lib/invoker/types';
import { logger } from '../../lib/log';
import { runKeys } from '../../lib/redis/keys';
import { float32ToBuffer } from '../../lib/tensor/float32';
import { startTestRedis, type TestRedis } from '../helpers/servers';

const noInvoker: Invoker = { invoke: () => Promise.reject(new Error('not used')), close: async () => undefined };

describe('preparePeer on real Redis', () => {
  let server: TestRedis;
  let directory: PeerDirectory;
  const run = 'prep1';
  const keys = runKeys(run);
  const input: PreparePeerInput = {
    run,
    model: 'mobilenet_v3_small',
    seed: 1,
    dataset: 'mnist',
    trainLimit: 1000,
    peers: 2,
    shardsPerPeer: 2,
    batchSize: 50,
  };
  const prepare = (env: MockActivityEnvironment) =>
    env.run(
      makePreparePeer({ peerId: 'p1', directory, invoker: noInvoker, log: logger }),
      input,
    ) as Promise<PreparePeerResult>;

  beforeAll(async () => {
    server = await startTestRedis();
    directory = new PeerDirectory({ p1: server.endpoint });
  });
  afterAll(async () => {
    await directory.close();
    await server.stop();
  });

  it('completes an attempt that died half-way, and never overwrites a prepared model', async () => {
    const redis = await directory.connection('p1');
    // What a crash right after writing only the parameters would leave behind.
    await redis.set(keys.params, float32ToBuffer(Float32Array.from([1, 2, 3])));
    const env = new MockActivityEnvironment();
    const first = await prepare(env);
    expect(first).toMatchObject({ initialised: true, trainCount: 1000, stepsPerEpoch: 5 });
    expect(first.bufferCount).toBeGreaterThan(0);
    expect(await redis.strlen(keys.params)).toBe(first.paramCount * 4);
    expect(await redis.strlen(keys.buffers)).toBe(first.bufferCount * 4);
    expect(JSON.parse((await redis.get(keys.layout)) as string).model).toBe('mobilenet_v3_small');

    // A trained model stays as it is when the activity runs again.
    const trained = float32ToBuffer(new Float32Array(first.paramCount).fill(0.5));
    await redis.set(keys.params, trained);
    const second = await prepare(env);
    expect(second.initialised).toBe(false);
    expect((await redis.getBuffer(keys.params))?.equals(trained)).toBe(true);
  });
});
