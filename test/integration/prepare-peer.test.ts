import { MockActivityEnvironment } from '@temporalio/testing';
import { PeerDirectory } from '../../lib/redis/peer-directory';
import { makePreparePeer, type PreparePeerInput, type PreparePeerResult } from '../../activities/prepare-peer';
import { runKeys } from '../../lib/redis/keys';
import { float32ToBuffer } from '../../lib/tensor/float32';
import { testDeps } from '../helpers/deps';
import { startTestRedis, type TestRedis } from '../helpers/servers';

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
    rank: 0,
    shardsPerPeer: 2,
    batchSize: 50,
    ttlSeconds: 60,
    path: 'auto',
  };
  const prepare = (env: MockActivityEnvironment) =>
    env.run(makePreparePeer(testDeps('p1', directory)), input) as Promise<PreparePeerResult>;

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
    // The run plan is stored once: function calls carry only {run, epoch, step, shard}.
    expect(JSON.parse((await redis.get(keys.plan)) as string)).toMatchObject({
      model: 'mobilenet_v3_small',
      rank: 0,
      peers: 2,
      shardsPerPeer: 2,
      batchSize: 50,
      seed: 1,
      stepsPerEpoch: 5,
      hasBuffers: true,
    });

    // A trained model stays as it is when the activity runs again.
    const trained = float32ToBuffer(new Float32Array(first.paramCount).fill(0.5));
    await redis.set(keys.params, trained);
    const second = await prepare(env);
    expect(second.initialised).toBe(false);
    expect((await redis.getBuffer(keys.params))?.equals(trained)).toBe(true);
  });
});
