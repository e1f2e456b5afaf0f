import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { releasedKeys } from '../../activities/apply-update';
import { nextRelease } from '../../lib/protocol/types';
import type { AwaitPeersReadyResult } from '../../activities/await-peers-ready';
import { steadyBarrier, type StepFrontResult } from '../../activities/fused-step';
import { suspectsOf } from '../../lib/membership/suspects';
import { runKeys } from '../../lib/redis/keys';
import { readPeerConfig } from '../../lib/stack/peer-config';

describe('a peer vote (suspectsOf)', () => {
  it('lists the other peers the detector suspects or an operator removed, in active-set order, once each', () => {
    const others = ['p2', 'p3', 'p4'];
    expect(suspectsOf(others, [{ peer: 'p4' }, { peer: 'p2' }], ['p4'])).toEqual(['p2', 'p4']);
    expect(suspectsOf(others, [], [])).toEqual([]);
    // A suspicion about a peer that is not another active peer is not a vote.
    expect(suspectsOf(others, [{ peer: 'p9' }], ['p1'])).toEqual([]);
  });
});

describe("a step's working tensors (releasedKeys)", () => {
  it("names the shard gradients and buffers, the copies of other peers' gradients and the aggregate, not the step's own published average", () => {
    const keys = runKeys('r1');
    const released = releasedKeys(keys, 'p1', { epoch: 2, step: 5, shards: 2, peers: ['p1', 'p2', 'p3'] });
    expect(released).toEqual([
      keys.shardGradient(2, 5, 0, 'p1'),
      keys.shardBuffers(2, 5, 0, 'p1'),
      keys.shardGradient(2, 5, 1, 'p1'),
      keys.shardBuffers(2, 5, 1, 'p1'),
      keys.peerGradient(2, 5, 'p2'),
      keys.peerBuffers(2, 5, 'p2'),
      keys.peerGradient(2, 5, 'p3'),
      keys.peerBuffers(2, 5, 'p3'),
      keys.aggregatedGradient(2, 5),
    ]);
    for (const kept of [keys.averagedGradient(2, 5), keys.averagedBuffers(2, 5), keys.averagedSignature(2, 5)])
      expect(released).not.toContain(kept);
    expect(released.every((k) => k.startsWith('spirt:r1:'))).toBe(true);
  });

  it('names the published average, buffers and signature of the step before, across an epoch boundary too', () => {
    const keys = runKeys('r1');
    const first = nextRelease(null, { epoch: 2, step: 15, shards: 1, peers: [] });
    expect(first.published).toBeUndefined();
    const next = nextRelease(first, { epoch: 3, step: 0, shards: 1, peers: [] });
    expect(next.published).toEqual([2, 15]);
    const released = releasedKeys(keys, 'p1', next);
    for (const gone of [keys.averagedGradient(2, 15), keys.averagedBuffers(2, 15), keys.averagedSignature(2, 15)])
      expect(released).toContain(gone);
    expect(released).not.toContain(keys.averagedGradient(3, 0));
  });
});

describe('peer config functionNice', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'spirt-peer-config-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (extra: Record<string, unknown>) => {
    const path = join(dir, `peer-${Object.values(extra).join('-') || 'plain'}.json`);
    writeFileSync(path, JSON.stringify({ v: 1, peer: 'p1', networkFile: 'network.json', dir: '.', ...extra }));
    return path;
  };

  it('accepts 0..19 and leaves it out by default', () => {
    expect(readPeerConfig(write({ functionNice: 19 })).functionNice).toBe(19);
    expect(readPeerConfig(write({ functionNice: 0 })).functionNice).toBe(0);
    expect(readPeerConfig(write({})).functionNice).toBeUndefined();
  });

  it('refuses anything else with a clear error', () => {
    for (const bad of [-1, 20, 2.5, 'high'])
      expect(() => readPeerConfig(write({ functionNice: bad }))).toThrow(/"functionNice" must be an integer 0\.\.19/);
  });

  it('functionIdle: true or false, absent by default (the worker then takes true)', () => {
    expect(readPeerConfig(write({ functionIdle: false })).functionIdle).toBe(false);
    expect(readPeerConfig(write({ functionIdle: true })).functionIdle).toBe(true);
    expect(readPeerConfig(write({})).functionIdle).toBeUndefined();
    for (const bad of ['yes', 1, null])
      expect(() => readPeerConfig(write({ functionIdle: bad }))).toThrow(/"functionIdle" must be true or false/);
  });

  it('redisForkIdle: true or false, absent by default (the peer Redis then loads the module with FORK_CHILD_IDLE)', () => {
    expect(readPeerConfig(write({ redisForkIdle: false })).redisForkIdle).toBe(false);
    expect(readPeerConfig(write({})).redisForkIdle).toBeUndefined();
    for (const bad of ['no', 0])
      expect(() => readPeerConfig(write({ redisForkIdle: bad }))).toThrow(/"redisForkIdle" must be true or false/);
  });
});

describe('a steady barrier (steadyBarrier, which lets stepChain go on to the next step)', () => {
  const vote = {
    suspects: [] as string[],
    missing: {},
    membership: [],
    adds: [] as string[],
    stop: null as string | null,
  };
  const front = (votes: Record<string, typeof vote>, over: Partial<AwaitPeersReadyResult> = {}): StepFrontResult => ({
    results: [],
    retries: [],
    probe: { suspected: [] },
    sync: {
      delivered: Object.keys(votes),
      failed: [],
      barrier: {
        votes,
        missing: [],
        suspected: [],
        removedNotice: null,
        departed: [],
        timedOut: false,
        cursor: '0-0',
        waitedMs: 1,
        ...over,
      } as AwaitPeersReadyResult,
      ms: { publish: 1 },
    },
    ms: { compute: 1, average: 1, probe: 1 },
  });
  const all = { p1: vote, p2: vote, p3: vote };

  it('holds when every active peer is ready with the same empty vote', () => {
    expect(steadyBarrier(front(all), ['p1', 'p2', 'p3'], [])).toBe(true);
  });

  it("compares membership by the decisions, not by each peer's reason text or order", () => {
    const removed = (peer: string, reason: string) => ({ epoch: 1, step: 3, peer, change: 'removed' as const, reason });
    const mine = [removed('p4', 'heartbeat stale for 3012 ms'), removed('p5', 'probe timeout')];
    const theirs = [removed('p5', 'probe timeout'), removed('p4', 'heartbeat stale for 2987 ms')];
    const votes = { p1: { ...vote, membership: mine }, p2: { ...vote, membership: theirs }, p3: vote };
    expect(steadyBarrier(front(votes as typeof all), ['p1', 'p2', 'p3'], mine)).toBe(false);
    const same = { ...votes, p3: { ...vote, membership: theirs } };
    expect(steadyBarrier(front(same as typeof all), ['p1', 'p2', 'p3'], mine)).toBe(true);
  });

  it('ends the chain on anything the workflow must decide', () => {
    const active = ['p1', 'p2', 'p3'];
    expect(steadyBarrier(front({ p1: vote, p2: vote }), active, [])).toBe(false);
    expect(steadyBarrier(front({ ...all, p4: vote }), active, [])).toBe(false);
    expect(steadyBarrier(front({ ...all, p2: { ...vote, suspects: ['p3'] } }), active, [])).toBe(false);
    expect(steadyBarrier(front({ ...all, p2: { ...vote, missing: { p3: [1, 2] } } }), active, [])).toBe(false);
    expect(steadyBarrier(front({ ...all, p2: { ...vote, adds: ['p9'] } }), active, [])).toBe(false);
    expect(steadyBarrier(front({ ...all, p3: { ...vote, stop: 'operator' } }), active, [])).toBe(false);
    expect(steadyBarrier(front(all, { timedOut: true }), active, [])).toBe(false);
    expect(steadyBarrier(front(all, { suspected: [{ peer: 'p2', reason: 'x' }] }), active, [])).toBe(false);
    const event = { epoch: 1, step: 0, peer: 'p4', change: 'removed' as const, reason: 'agreed' };
    expect(steadyBarrier(front(all), active, [event])).toBe(false);
    const probed = { ...front(all), probe: { suspected: [{ peer: 'p3', reason: 'probe timeout', since: 0 }] } };
    expect(steadyBarrier(probed, active, [])).toBe(false);
    expect(steadyBarrier({ ...front(all), sync: { ...front(all).sync!, barrier: null } }, active, [])).toBe(false);
  });
});
