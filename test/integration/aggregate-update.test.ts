// fetchPeerGradients, aggregateGradients and applyUpdate on real redis-server processes.
import { MockActivityEnvironment } from '@temporalio/testing';
import { makeAggregateGradients, type AggregateGradientsInput } from '../../activities/aggregate-gradients';
import { makeApplyUpdate, type ApplyUpdateInput } from '../../activities/apply-update';
import { makeFetchPeerGradients, type FetchPeerGradientsResult } from '../../activities/fetch-peer-gradients';
import { GradientPrefetcher } from '../../activities/prefetch';
import { makePublishReady } from '../../activities/publish-ready';
import type { RunPlan } from '../../lib/protocol/plan';
import { runKeys } from '../../lib/redis/keys';
import { PeerDirectory } from '../../lib/redis/peer-directory';
import { bufferToFloat32, float32ToBuffer } from '../../lib/tensor/float32';
import { testDeps } from '../helpers/deps';
import { startTestRedis, type TestRedis } from '../helpers/servers';

describe('fetch, aggregate and update on real Redis', () => {
  const servers: TestRedis[] = [];
  let directory: PeerDirectory;
  const run = 'agg1';
  const keys = runKeys(run);
  const plan: RunPlan = {
    run,
    model: 'softmax',
    dataset: 'mnist',
    peers: 3,
    rank: 0,
    shardsPerPeer: 1,
    batchSize: 1,
    seed: 1,
    ttlSeconds: 60,
    path: 'auto',
    trainCount: 3,
    testCount: 1,
    stepsPerEpoch: 1,
    hasBuffers: false,
  };
  const aggInput = (step: number, peers: string[]): AggregateGradientsInput => ({
    run,
    epoch: 1,
    step,
    peers,
    aggregation: 'mean',
    byzantineF: 1,
  });
  const updInput = (step: number, peers: string[]): ApplyUpdateInput => ({
    run,
    epoch: 1,
    step,
    peers,
    lr: 0.5,
    momentum: 0,
    weightDecay: 0,
  });
  const deps = () => testDeps('p1', directory);
  const params = async () =>
    bufferToFloat32((await (await directory.connection('p1')).getBuffer(keys.params)) as Buffer);

  beforeAll(async () => {
    servers.push(await startTestRedis(), await startTestRedis(), await startTestRedis());
    directory = new PeerDirectory({ p1: servers[0].endpoint, p2: servers[1].endpoint, p3: servers[2].endpoint });
    const [own, p2, p3] = await Promise.all(['p1', 'p2', 'p3'].map((p) => directory.connection(p)));
    await own.set(keys.plan, JSON.stringify(plan));
    await own.set(keys.params, float32ToBuffer(Float32Array.from([1, 2, 3, 4])));
    await own.set(keys.averagedGradient(1, 0), float32ToBuffer(Float32Array.from([1, 1, 1, 1])));
    await p2.set(keys.averagedGradient(1, 0), float32ToBuffer(Float32Array.from([3, 3, 3, 3])));
    await p3.set(keys.averagedGradient(1, 0), float32ToBuffer(Float32Array.from([9, 9, 9, 9])));
    await own.set(keys.averagedGradient(1, 1), float32ToBuffer(Float32Array.from([0, 0, 0, 2])));
    await p2.set(keys.averagedGradient(1, 1), float32ToBuffer(Float32Array.from([0, 0, NaN, 2])));
  });
  afterAll(async () => {
    await directory.close();
    await Promise.all(servers.map((s) => s.stop()));
  });

  it("a peer whose Redis died is dropped from the step with the reason; the others' mean is applied once", async () => {
    const env = new MockActivityEnvironment();
    // p3's redis-server is killed after it published: its gradient cannot be fetched any more.
    await directory.connection('p3');
    servers[2].server.child.kill('SIGKILL');
    await new Promise((r) => servers[2].server.child.once('exit', r));
    const fetched = (await env.run(makeFetchPeerGradients(deps()), {
      run,
      epoch: 1,
      step: 0,
      peers: ['p2', 'p3'],
      timeoutMs: 5000,
    })) as FetchPeerGradientsResult;
    expect(fetched.fetched).toEqual(['p2']);
    expect(fetched.dropped).toHaveLength(1);
    expect(fetched.dropped[0].peer).toBe('p3');
    expect(fetched.dropped[0].reason).toMatch(/connection|closed|refused|timed out/i);

    await env.run(makeAggregateGradients(deps()), aggInput(0, ['p1', 'p2']));
    await env.run(makeApplyUpdate(deps()), updInput(0, ['p1', 'p2']));
    expect(Array.from(await params())).toEqual([0, 1, 2, 3]);
    // A retried update (the activity ran, the worker died before reporting it) is not applied twice.
    await env.run(makeApplyUpdate(deps()), updInput(0, ['p1', 'p2']));
    expect(Array.from(await params())).toEqual([0, 1, 2, 3]);
  });

  it('rejects a NaN gradient from a peer and leaves the parameters untouched', async () => {
    const env = new MockActivityEnvironment();
    await env.run(makeFetchPeerGradients(deps()), { run, epoch: 1, step: 1, peers: ['p2'] });
    await expect(env.run(makeAggregateGradients(deps()), aggInput(1, ['p1', 'p2']))).rejects.toThrow(
      /non-finite|NaN|finite/i,
    );
    expect(Array.from(await params())).toEqual([0, 1, 2, 3]);
  });

  /**
   * A prefetcher watching `step` for p2's ready, with p2's gradient `values` published: `body` gets the fetch,
   * p2's ready (sent to p1) and a reader of p1's copy.
   */
  async function withPrefetcher(
    step: number,
    values: number[],
    body: (t: {
      fetch: () => Promise<FetchPeerGradientsResult>;
      ready: () => Promise<unknown>;
      copy: () => Promise<number[]>;
      republish: (values: number[]) => Promise<unknown>;
    }) => Promise<void>,
  ): Promise<void> {
    const env = new MockActivityEnvironment();
    const [own, p2] = await Promise.all([directory.connection('p1'), directory.connection('p2')]);
    const republish = (v: number[]) => p2.set(keys.averagedGradient(1, step), float32ToBuffer(Float32Array.from(v)));
    await republish(values);
    const mine = deps();
    const prefetcher = new GradientPrefetcher(mine);
    mine.prefetcher = prefetcher;
    const message = { run, epoch: 1, step, suspects: [], missing: {}, membership: [], adds: [], stop: null };
    try {
      prefetcher.start({ run, epoch: 1, step, peers: ['p2'], cursor: '-', timeoutMs: 10_000 });
      await body({
        fetch: async () =>
          (await env.run(makeFetchPeerGradients(mine), {
            run,
            epoch: 1,
            step,
            peers: ['p2'],
          })) as FetchPeerGradientsResult,
        ready: () => env.run(makePublishReady(testDeps('p2', directory)), { message, to: ['p1'] }),
        copy: async () => {
          const buf = (await own.getBuffer(keys.peerGradient(1, step, 'p2'))) as Buffer | null;
          return buf ? Array.from(bufferToFloat32(buf)) : [];
        },
        republish,
      });
    } finally {
      prefetcher.stop();
    }
  }

  it("prefetch copies a peer's gradient as soon as its ready arrives, and the fetch after the barrier keeps that copy", async () => {
    await withPrefetcher(2, [5, 6, 7, 8], async ({ fetch, ready, copy, republish }) => {
      // Before p2 announces ready, nothing is copied.
      await new Promise((r) => setTimeout(r, 300));
      expect(await copy()).toEqual([]);
      await ready();
      // The copy takes its name only once verified.
      const deadline = Date.now() + 5000;
      while ((await copy()).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(await copy()).toEqual([5, 6, 7, 8]);
      // The fetch finds the verified copy and does not copy again: a source changed since is not read.
      await republish([0, 0, 0, 0]);
      expect((await fetch()).fetched).toEqual(['p2']);
      expect(await copy()).toEqual([5, 6, 7, 8]);
    });
  });

  it('a fetch that copies a peer the prefetcher has not reached yet takes it over: no second copy when its ready arrives', async () => {
    await withPrefetcher(9, [1, 2, 3, 4], async ({ fetch, ready, copy, republish }) => {
      // The fetch comes first (its barrier saw p2's ready before the prefetcher's read did).
      expect((await fetch()).fetched).toEqual(['p2']);
      expect(await copy()).toEqual([1, 2, 3, 4]);
      // The source changes, then p2's ready reaches the prefetcher: a second copy would replace the first.
      await republish([0, 0, 0, 0]);
      await ready();
      await new Promise((r) => setTimeout(r, 500));
      expect(await copy()).toEqual([1, 2, 3, 4]);
    });
  });

  it('copies a large gradient in pieces: the same bytes, its TTL, no partial key left, concurrent copies agree', async () => {
    const [own, p2] = await Promise.all(['p1', 'p2'].map((p) => directory.connection(p)));
    // 2.5 pieces of 1 MB, so the last piece is short.
    const values = Float32Array.from({ length: 655_360 }, (_, i) => Math.sin(i) * 1e3);
    await p2.set(keys.averagedGradient(1, 3), float32ToBuffer(values));
    const env = new MockActivityEnvironment();
    // Two fetches of the same gradient at once (the prefetcher and the fetch can race): each writes its own
    // partial key and both land the same verified bytes.
    const results = (await Promise.all(
      [0, 1].map(() => env.run(makeFetchPeerGradients(deps()), { run, epoch: 1, step: 3, peers: ['p2'] })),
    )) as FetchPeerGradientsResult[];
    for (const r of results) expect(r).toMatchObject({ fetched: ['p2'], dropped: [] });
    const copy = (await own.getBuffer(keys.peerGradient(1, 3, 'p2'))) as Buffer;
    expect(copy.equals(float32ToBuffer(values))).toBe(true);
    expect(await own.ttl(keys.peerGradient(1, 3, 'p2'))).toBeGreaterThan(0);
    expect(await own.keys(`${keys.peerGradient(1, 3, 'p2')}:partial:*`)).toEqual([]);
    // A gradient that is not there: dropped with the reason, and nothing of it is written.
    const missing = (await env.run(makeFetchPeerGradients(deps()), {
      run,
      epoch: 1,
      step: 4,
      peers: ['p2'],
    })) as FetchPeerGradientsResult;
    expect(missing.dropped).toEqual([{ peer: 'p2', reason: expect.stringMatching(/is gone/) }]);
    expect(await own.keys(`${keys.peerGradient(1, 4, 'p2')}*`)).toEqual([]);
  });

  it("copies exactly when a gradient's length is not the run's last one (the pieces are asked for with that length)", async () => {
    const [own, p2] = await Promise.all(['p1', 'p2'].map((p) => directory.connection(p)));
    const sized = (floats: number, seed: number) => Float32Array.from({ length: floats }, (_, i) => Math.cos(i + seed));
    // 2.5 MB, then shorter (1.6 MB, and under one piece), then longer (3 MB), then missing: one worker (one plan).
    const lengths = [655_360, 400_000, 200_000, 786_432];
    const fetch = makeFetchPeerGradients(deps());
    const env = new MockActivityEnvironment();
    for (const [i, floats] of lengths.entries()) {
      const step = 20 + i;
      const values = sized(floats, i);
      await p2.set(keys.averagedGradient(1, step), float32ToBuffer(values));
      const r = (await env.run(fetch, { run, epoch: 1, step, peers: ['p2'] })) as FetchPeerGradientsResult;
      expect(r).toMatchObject({ fetched: ['p2'], dropped: [] });
      const copy = (await own.getBuffer(keys.peerGradient(1, step, 'p2'))) as Buffer;
      expect(copy.equals(float32ToBuffer(values))).toBe(true);
      expect(await own.keys(`${keys.peerGradient(1, step, 'p2')}:partial:*`)).toEqual([]);
    }
    const missing = (await env.run(fetch, { run, epoch: 1, step: 30, peers: ['p2'] })) as FetchPeerGradientsResult;
    expect(missing.dropped).toEqual([{ peer: 'p2', reason: expect.stringMatching(/is gone/) }]);
    expect(await own.keys(`${keys.peerGradient(1, 30, 'p2')}*`)).toEqual([]);
  });

  it('reads a gradient whole from a peer whose ACL user may GET but not GETRANGE (set up by an older version)', async () => {
    const p2 = await directory.connection('p2');
    const values = Float32Array.from({ length: 400_000 }, (_, i) => i / 7);
    await p2.set(keys.averagedGradient(1, 5), float32ToBuffer(values));
    // The rules a peer's user had before GETRANGE was granted.
    await p2.call(
      'ACL',
      'SETUSER',
      'peer:old',
      'reset',
      'on',
      '>old-password',
      '-@all',
      '+ping',
      '+get',
      '+strlen',
      '+exists',
      '~*',
    );
    const older = new PeerDirectory({
      p1: servers[0].endpoint,
      p2: { ...servers[1].endpoint, username: 'peer:old', password: 'old-password' },
    });
    try {
      await expect((await older.connection('p2')).getrange(keys.averagedGradient(1, 5), 0, 3)).rejects.toThrow(
        /NOPERM/,
      );
      const env = new MockActivityEnvironment();
      const r = (await env.run(makeFetchPeerGradients(testDeps('p1', older)), {
        run,
        epoch: 1,
        step: 5,
        peers: ['p2'],
      })) as FetchPeerGradientsResult;
      expect(r).toMatchObject({ fetched: ['p2'], dropped: [] });
      const own = await directory.connection('p1');
      expect(((await own.getBuffer(keys.peerGradient(1, 5, 'p2'))) as Buffer).equals(float32ToBuffer(values))).toBe(
        true,
      );
      expect(await own.keys(`${keys.peerGradient(1, 5, 'p2')}:partial:*`)).toEqual([]);
    } finally {
      await older.close();
    }
  });
});
