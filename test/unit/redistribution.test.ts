import { batchIndices, shardRange, stepsPerEpoch } from '../../lib/data';
import { DataError } from '../../lib/errors/data-error';
import {
  catchUpBatches,
  initialOwners,
  ownedRanges,
  reassignUnits,
  unitsOf,
  type BatchRef,
  type UnitOwners,
} from '../../lib/membership/redistribution';

const PEERS = ['p1', 'p2', 'p3', 'p4'];

describe('redistribution by rank', () => {
  it('an epoch start: every sample of the training set is owned by exactly one active peer', () => {
    const total = 1003;
    for (const inactive of [[], ['p2'], ['p1', 'p4'], ['p2', 'p3', 'p4']]) {
      const active = PEERS.filter((p) => !inactive.includes(p));
      const owners = initialOwners(PEERS, active, 3);
      const seen = new Uint8Array(total);
      for (const p of active)
        for (const { start, end } of ownedRanges(owners, p, total, PEERS.length, 3))
          for (let i = start; i < end; i++) seen[i]++;
      expect(seen.every((c) => c === 1)).toBe(true);
      for (const p of inactive) expect(unitsOf(owners, p)).toEqual([]);
    }
  });

  it("splits the failed peer's shards among the survivors by rank; parallelism grows with the share", () => {
    // The paper's case: 4 peers x 15 functions; one fails; each survivor runs 20.
    const owners = reassignUnits(initialOwners(PEERS, PEERS, 15), ['p2'], ['p1', 'p3', 'p4']);
    expect(['p1', 'p3', 'p4'].map((p) => unitsOf(owners, p).length)).toEqual([20, 20, 20]);
    expect(
      unitsOf(owners, 'p1')
        .filter((u) => u.rank === 1)
        .map((u) => u.shard),
    ).toEqual([0, 1, 2, 3, 4]);
    expect(
      unitsOf(owners, 'p3')
        .filter((u) => u.rank === 1)
        .map((u) => u.shard),
    ).toEqual([5, 6, 7, 8, 9]);
  });

  it('a failure mid-epoch: every batch of the epoch is computed exactly once (no sample dropped or used twice)', () => {
    const total = 2000;
    const shards = 2;
    const batch = 32;
    const steps = stepsPerEpoch(total, PEERS.length, shards, batch);
    const failAt = 5; // p2 is removed at step 5 (agreed then); it last contributed at step 3
    const since = 4;
    const counts = new Map<number, number>();
    const use = (b: BatchRef) => {
      const range = shardRange(total, PEERS.length, b.rank, shards, b.shard);
      for (const i of batchIndices(range, batch, b.step, { seed: 7, epoch: 1, rank: b.rank, shard: b.shard }))
        counts.set(i, (counts.get(i) ?? 0) + 1);
    };
    let owners: UnitOwners = initialOwners(PEERS, PEERS, shards);
    let active = [...PEERS];
    let pending: Record<string, BatchRef[]> = {};
    for (let step = 0; step < steps; step++) {
      for (const p of active) {
        for (const u of unitsOf(owners, p)) if (!(p === 'p2' && step >= since)) use({ ...u, epoch: 1, step });
        for (const b of pending[p] ?? []) use(b);
      }
      pending = {};
      if (step === failAt) {
        const before = owners;
        active = active.filter((p) => p !== 'p2');
        owners = reassignUnits(before, ['p2'], active);
        pending = catchUpBatches(before, owners, ['p2'], 1, since, failAt);
      }
    }
    const used = [...counts.values()];
    expect(used.every((c) => c === 1)).toBe(true);
    // Every sample the failure-free schedule covers in this epoch is covered.
    let scheduled = 0;
    for (let rank = 0; rank < PEERS.length; rank++)
      for (let shard = 0; shard < shards; shard++) {
        const len = shardRange(total, PEERS.length, rank, shards, shard);
        scheduled += Math.min(len.end - len.start, steps * batch);
      }
    expect(counts.size).toBe(scheduled);
  });

  it('refuses to redistribute to nobody', () => {
    expect(() => initialOwners(PEERS, [], 2)).toThrow(DataError);
    expect(() => reassignUnits(initialOwners(PEERS, PEERS, 2), ['p1'], [])).toThrow(DataError);
  });
});
