import { MockActivityEnvironment } from '@temporalio/testing';
import { PeerDirectory } from '../../activities';
import { makeAggregateAndUpdate, type AggregateAndUpdateInput } from '../../activities/aggregate-and-update';
import type { Invoker } from '../../lib/invoker/types';
import { logger } from '../../lib/log';
import { runKeys } from '../../lib/redis/keys';
import { bufferToFloat32, float32ToBuffer } from '../../lib/tensor/float32';
import { startTestRedis, type TestRedis } from '../helpers/servers';

const noInvoker: Invoker = { invoke: () => Promise.reject(new Error('not used')), close: async () => undefined };

describe('aggregateAndUpdate on real Redis', () => {
  const servers: TestRedis[] = [];
  let directory: PeerDirectory;
  const run = 'agg1';
  const keys = runKeys(run);
  const input = (step: number, peers: string[]): AggregateAndUpdateInput => ({
    run,
    epoch: 1,
    step,
    peers,
    hasBuffers: false,
    lr: 0.5,
    momentum: 0,
    weightDecay: 0,
    ttlSeconds: 60,
    path: 'auto',
    aggregation: 'mean',
    byzantineF: 1,
  });
  const update = () => makeAggregateAndUpdate({ peerId: 'p1', directory, invoker: noInvoker, log: logger });
  const params = async () =>
    bufferToFloat32((await (await directory.connection('p1')).getBuffer(keys.params)) as Buffer);

  beforeAll(async () => {
    servers.push(await startTestRedis(), await startTestRedis());
    directory = new PeerDirectory({ p1: servers[0].endpoint, p2: servers[1].endpoint });
    const [own, other] = await Promise.all([directory.connection('p1'), directory.connection('p2')]);
    await own.set(keys.params, float32ToBuffer(Float32Array.from([1, 2, 3, 4])));
    await own.set(keys.averagedGradient(1, 0), float32ToBuffer(Float32Array.from([1, 1, 1, 1])));
    await other.set(keys.averagedGradient(1, 0), float32ToBuffer(Float32Array.from([3, 3, 3, 3])));
    await own.set(keys.averagedGradient(1, 1), float32ToBuffer(Float32Array.from([0, 0, 0, 2])));
    await other.set(keys.averagedGradient(1, 1), float32ToBuffer(Float32Array.from([0, 0, NaN, 2])));
  });
  afterAll(async () => {
    await directory.close();
    await Promise.all(servers.map((s) => s.stop()));
  });

  it("applies the mean of the peers' gradients once, even when the activity is retried", async () => {
    const env = new MockActivityEnvironment();
    await env.run(update(), input(0, ['p1', 'p2']));
    expect(Array.from(await params())).toEqual([0, 1, 2, 3]);
    await env.run(update(), input(0, ['p1', 'p2']));
    expect(Array.from(await params())).toEqual([0, 1, 2, 3]);
  });

  it('rejects a NaN gradient from a peer and leaves the parameters untouched', async () => {
    const env = new MockActivityEnvironment();
    await expect(env.run(update(), input(1, ['p1', 'p2']))).rejects.toThrow(/non-finite|NaN|finite/i);
    expect(Array.from(await params())).toEqual([0, 1, 2, 3]);
  });
});
