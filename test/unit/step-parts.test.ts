import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { releasedKeys } from '../../activities/apply-update';
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
  it("names the shard gradients and buffers, the copies of other peers' gradients and the aggregate, never the published average", () => {
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
});
