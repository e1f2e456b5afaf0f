import { MockActivityEnvironment } from '@temporalio/testing';
import { PeerDirectory } from '../../activities';
import { makeAwaitPeersReady } from '../../activities/await-peers-ready';
import { makePublishReady } from '../../activities/publish-ready';
import type { ActivityDeps } from '../../activities/deps';
import { logger } from '../../lib/log';
import type { Invoker } from '../../lib/invoker/types';
import { startTestRedis, type TestRedis } from '../helpers/servers';

/** MockActivityEnvironment.run with the activity's result type kept. */
function call<A, R>(env: MockActivityEnvironment, fn: (a: A) => Promise<R>, input: A): Promise<R> {
  return env.run(fn, input) as Promise<R>;
}

const noInvoker: Invoker = {
  invoke: () => Promise.reject(new Error('not used')),
  close: async () => undefined,
};

describe('sync barrier on Redis Streams', () => {
  const servers: TestRedis[] = [];
  let directory: PeerDirectory;
  const deps = (peerId: string): ActivityDeps => ({ peerId, directory, invoker: noInvoker, log: logger });

  beforeAll(async () => {
    servers.push(await startTestRedis({ module: false }), await startTestRedis({ module: false }));
    directory = new PeerDirectory({ p1: servers[0].endpoint, p2: servers[1].endpoint });
  });
  afterAll(async () => {
    await directory.close();
    await Promise.all(servers.map((s) => s.stop()));
  });

  it("completes when every peer is ready, and keeps a faster peer's later message for the next step", async () => {
    const env = new MockActivityEnvironment();
    const run = 'barrier1';
    const publish1 = makePublishReady(deps('p1'));
    const publish2 = makePublishReady(deps('p2'));
    const await1 = makeAwaitPeersReady(deps('p1'));
    await call(env, publish2, { run, epoch: 1, step: 0, to: ['p1', 'p2'] });
    // p2 races ahead and announces step 1 before p1 has even announced step 0.
    await call(env, publish2, { run, epoch: 1, step: 1, to: ['p1', 'p2'] });
    await call(env, publish1, { run, epoch: 1, step: 0, to: ['p1', 'p2'] });
    const first = await call(env, await1, {
      run,
      epoch: 1,
      step: 0,
      expected: ['p1', 'p2'],
      cursor: '-',
      timeoutMs: 2000,
    });
    expect(first.ready).toEqual(['p1', 'p2']);
    expect(first.missing).toEqual([]);
    await call(env, publish1, { run, epoch: 1, step: 1, to: ['p1', 'p2'] });
    const second = await call(env, await1, {
      run,
      epoch: 1,
      step: 1,
      expected: ['p1', 'p2'],
      cursor: first.cursor,
      timeoutMs: 2000,
    });
    expect(second.ready).toEqual(['p1', 'p2']);
  });

  it('times out with the missing peers named, and ignores other runs', async () => {
    const env = new MockActivityEnvironment();
    await call(env, makePublishReady(deps('p2')), { run: 'other-run', epoch: 1, step: 0, to: ['p1'] });
    await call(env, makePublishReady(deps('p1')), { run: 'barrier2', epoch: 1, step: 0, to: ['p1'] });
    const started = Date.now();
    const result = await call(env, makeAwaitPeersReady(deps('p1')), {
      run: 'barrier2',
      epoch: 1,
      step: 0,
      expected: ['p1', 'p2'],
      cursor: '-',
      timeoutMs: 300,
    });
    expect(result.ready).toEqual(['p1']);
    expect(result.missing).toEqual(['p2']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
  });

  it('reports an unreachable peer as not delivered instead of failing', async () => {
    const env = new MockActivityEnvironment();
    const out = await call(env, makePublishReady(deps('p1')), { run: 'barrier3', epoch: 1, step: 0, to: ['p1', 'p9'] });
    expect(out).toEqual({ delivered: ['p1'], failed: ['p9'] });
  });
});
