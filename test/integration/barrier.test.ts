// The sync barrier (publishReady + awaitPeersReady) on real redis-server processes.
import { MockActivityEnvironment } from '@temporalio/testing';
import { makeAwaitPeersReady, type AwaitPeersReadyInput } from '../../activities/await-peers-ready';
import { makePublishReady, type PublishReadyInput } from '../../activities/publish-ready';
import type { ActivityDeps } from '../../activities/deps';
import { PeerDirectory } from '../../lib/redis/peer-directory';
import { testDeps } from '../helpers/deps';
import { startTestRedis, type TestRedis } from '../helpers/servers';

/** MockActivityEnvironment.run with the activity's result type kept. */
function call<A, R>(env: MockActivityEnvironment, fn: (a: A) => Promise<R>, input: A): Promise<R> {
  return env.run(fn, input) as Promise<R>;
}

const ready = (run: string, epoch: number, step: number, to: string[], extra: object = {}): PublishReadyInput => ({
  message: { run, epoch, step, suspects: [], missing: {}, membership: [], adds: [], stop: null, ...extra },
  to,
});

const wait = (run: string, step: number, expected: string[], extra: Partial<AwaitPeersReadyInput> = {}) => ({
  run,
  epoch: 1,
  step,
  expected,
  cursor: '-',
  timeoutMs: 2000,
  forceSuspected: [],
  ...extra,
});

describe('sync barrier on Redis Streams', () => {
  const servers: TestRedis[] = [];
  let directory: PeerDirectory;
  const deps: Record<string, ActivityDeps> = {};

  beforeAll(async () => {
    servers.push(await startTestRedis({ module: false }), await startTestRedis({ module: false }));
    directory = new PeerDirectory({ p1: servers[0].endpoint, p2: servers[1].endpoint, p3: servers[1].endpoint });
    for (const p of ['p1', 'p2', 'p3']) deps[p] = testDeps(p, directory);
  });
  afterAll(async () => {
    await directory.close();
    await Promise.all(servers.map((s) => s.stop()));
  });

  it("completes when every peer is ready, carries the votes, and keeps a faster peer's later message", async () => {
    const env = new MockActivityEnvironment();
    const run = 'barrier1';
    const [publish1, publish2] = [makePublishReady(deps.p1), makePublishReady(deps.p2)];
    const await1 = makeAwaitPeersReady(deps.p1);
    await call(env, publish2, ready(run, 1, 0, ['p1', 'p2'], { suspects: ['p3'] }));
    // p2 races ahead and announces step 1 before p1 has even announced step 0.
    await call(env, publish2, ready(run, 1, 1, ['p1', 'p2']));
    await call(env, publish1, ready(run, 1, 0, ['p1', 'p2']));
    const first = await call(env, await1, wait(run, 0, ['p1', 'p2']));
    expect(Object.keys(first.votes).sort()).toEqual(['p1', 'p2']);
    expect(first.votes.p2.suspects).toEqual(['p3']);
    expect(first.missing).toEqual([]);
    expect(first.timedOut).toBe(false);
    await call(env, publish1, ready(run, 1, 1, ['p1', 'p2']));
    const second = await call(env, await1, wait(run, 1, ['p1', 'p2'], { cursor: first.cursor }));
    expect(Object.keys(second.votes).sort()).toEqual(['p1', 'p2']);
  });

  it('is woken by a message instead of polling to the timeout', async () => {
    const env = new MockActivityEnvironment();
    const run = 'barrier-wake';
    await call(env, makePublishReady(deps.p1), ready(run, 1, 0, ['p1']));
    const started = Date.now();
    const waiting = call(env, makeAwaitPeersReady(deps.p1), wait(run, 0, ['p1', 'p2'], { timeoutMs: 10_000 }));
    setTimeout(() => void call(env, makePublishReady(deps.p2), ready(run, 1, 0, ['p1'])), 300);
    const result = await waiting;
    expect(Object.keys(result.votes).sort()).toEqual(['p1', 'p2']);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('times out with the missing peers named, and ignores other runs', async () => {
    const env = new MockActivityEnvironment();
    await call(env, makePublishReady(deps.p2), ready('other-run', 1, 0, ['p1']));
    await call(env, makePublishReady(deps.p1), ready('barrier2', 1, 0, ['p1']));
    const started = Date.now();
    const result = await call(env, makeAwaitPeersReady(deps.p1), wait('barrier2', 0, ['p1', 'p2'], { timeoutMs: 300 }));
    expect(Object.keys(result.votes)).toEqual(['p1']);
    expect(result.missing).toEqual(['p2']);
    expect(result.timedOut).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
  });

  it('does not wait for a suspected peer (here: removed by an operator) once the others are a quorum', async () => {
    const env = new MockActivityEnvironment();
    const run = 'barrier-suspect';
    await call(env, makePublishReady(deps.p1), ready(run, 1, 0, ['p1']));
    await call(env, makePublishReady(deps.p2), ready(run, 1, 0, ['p1']));
    const started = Date.now();
    const result = await call(
      env,
      makeAwaitPeersReady(deps.p1),
      wait(run, 0, ['p1', 'p2', 'p3'], { timeoutMs: 10_000, forceSuspected: ['p3'] }),
    );
    expect(Date.now() - started).toBeLessThan(1000);
    expect(result.timedOut).toBe(false);
    expect(result.missing).toEqual(['p3']);
    expect(result.suspected).toEqual([{ peer: 'p3', reason: 'removed by operator' }]);
  });

  it('stops at a removal notice about this peer', async () => {
    const env = new MockActivityEnvironment();
    const run = 'barrier-removed';
    const own = await directory.connection('p1');
    const { encodeSync } = await import('../../lib/protocol/sync-message');
    await own.xadd(
      `spirt:${run}:stream:sync`,
      '*',
      ...encodeSync({ type: 'removed', run, peer: 'p2', target: 'p1', epoch: 1, step: 0, reason: 'suspected by p2' }),
    );
    const result = await call(env, makeAwaitPeersReady(deps.p1), wait(run, 1, ['p1', 'p2'], { timeoutMs: 10_000 }));
    expect(result.removedNotice?.reason).toBe('suspected by p2');
  });

  it("stops waiting for a peer that announced its departure, from that epoch's notice only", async () => {
    const env = new MockActivityEnvironment();
    const run = 'barrier-departed';
    const { makeAnnounceDeparture } = await import('../../activities/announce-departure');
    await call(env, makePublishReady(deps.p1), ready(run, 1, 3, ['p1']));
    await call(env, makePublishReady(deps.p2), ready(run, 1, 3, ['p1']));
    // A departure from an earlier epoch (before a readmission) does not count: p1 waits for p3 until the timeout.
    const stale = await call(env, makeAnnounceDeparture(deps.p3), {
      run,
      epoch: 0,
      step: 5,
      reason: 'removed by operator',
      to: ['p1', 'p3', 'p9'],
    });
    expect(stale).toEqual({ delivered: ['p1'], failed: ['p9'] });
    const first = await call(env, makeAwaitPeersReady(deps.p1), wait(run, 3, ['p1', 'p2', 'p3'], { timeoutMs: 400 }));
    expect(first.timedOut).toBe(true);
    expect(first.departed).toEqual([]);
    // p3 leaves while p1 waits again (p1 never got the operator's signal): the wait ends at the notice, not
    // at the timeout, and the stale notice still does not count.
    const started = Date.now();
    const waiting = call(env, makeAwaitPeersReady(deps.p1), wait(run, 3, ['p1', 'p2', 'p3'], { timeoutMs: 10_000 }));
    setTimeout(() => {
      void call(env, makeAnnounceDeparture(deps.p3), {
        run,
        epoch: 1,
        step: 3,
        reason: 'removed by operator',
        to: ['p1', 'p2'],
      });
    }, 200);
    const result = await waiting;
    expect(Date.now() - started).toBeLessThan(2000);
    expect(result.timedOut).toBe(false);
    expect(result.missing).toEqual(['p3']);
    expect(result.departed).toEqual([{ peer: 'p3', reason: 'removed by operator' }]);
    expect(result.suspected).toEqual([{ peer: 'p3', reason: 'left the run: removed by operator' }]);
  });

  it('a peer waiting for admission stops at a declined notice for it, and not at one for another peer', async () => {
    const env = new MockActivityEnvironment();
    const run = 'barrier-declined';
    const { makeDeclineAdmission } = await import('../../activities/decline-admission');
    const { makeAwaitAdmission } = await import('../../activities/await-admission');
    const since = Date.now();
    const decline = (target: string) =>
      call(env, makeDeclineAdmission(deps.p2), { run, epoch: 3, step: 15, peers: [target], reason: 'the run ended' });
    // In p1's stream, a notice for another peer: p1 keeps waiting past it.
    const { encodeSync } = await import('../../lib/protocol/sync-message');
    const fields = encodeSync({ type: 'declined', run, peer: 'p2', target: 'p3', epoch: 3, step: 15, reason: 'x' });
    await (await directory.connection('p1')).xadd(`spirt:${run}:stream:sync`, '*', ...fields);
    const started = Date.now();
    const waiting = call(env, makeAwaitAdmission(deps.p1), { run, timeoutMs: 10_000, since });
    setTimeout(() => void decline('p1'), 300);
    const notice = await waiting;
    expect(Date.now() - started).toBeLessThan(5000);
    expect(notice).toMatchObject({ type: 'declined', peer: 'p2', target: 'p1', epoch: 3, reason: 'the run ended' });
  });

  it('reports an unreachable peer as not delivered instead of failing', async () => {
    const env = new MockActivityEnvironment();
    const out = await call(env, makePublishReady(deps.p1), ready('barrier3', 1, 0, ['p1', 'p9']));
    expect(out).toEqual({ delivered: ['p1'], failed: ['p9'] });
  });
});
