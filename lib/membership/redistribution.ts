// Redistribution of inactive peers' data by rank (paper III.3.11): pure arithmetic, no I/O.
//
// The unit of work is one shard of one rank's partition (a "unit"): a fixed sample range whose batch
// schedule (shuffle per seed, epoch, rank and shard) does not depend on who computes it. When a peer leaves,
// its units are split among the surviving peers by rank, in contiguous groups, so that every survivor
// computes the same schedule from the same agreed membership, each batch of every epoch is computed by
// exactly one peer, and each survivor's degree of parallelism (functions per step) grows with its share.
import { DataError } from '../errors/data-error';
import { shardRange, splitRange, type Range } from '../data/partition';

/** One shard of one original rank's partition. */
export interface Unit {
  rank: number;
  shard: number;
}

/** One batch of one unit: the batch that unit computes at (epoch, step) in the failure-free schedule. */
export interface BatchRef extends Unit {
  epoch: number;
  step: number;
}

/** Who computes each unit: `owners["<rank>/<shard>"] = peerId`. Plain JSON (it lives in workflow state). */
export type UnitOwners = Record<string, string>;

export function unitKey(u: Unit): string {
  return `${u.rank}/${u.shard}`;
}

export function parseUnitKey(key: string): Unit {
  const [rank, shard] = key.split('/').map(Number);
  return { rank, shard };
}

/**
 * The assignment at an epoch start: every active peer keeps its own units; the units of each inactive
 * rank are split among the active peers in rank order (contiguous groups of shards).
 * When an active peer joined after the start (its rank is `partitions` or more), the whole data set is
 * re-cut instead: all units, in rank order, split in contiguous groups among the active peers by rank.
 * @param peers every peer of the run by rank (`peers[r]` has rank r)
 * @param active ids of the active peers
 * @param partitions how many of the first peers own a data partition (the run's peers at its start)
 * @throws {DataError} when no peer is active
 */
export function initialOwners(
  peers: readonly string[],
  active: readonly string[],
  shardsPerPeer: number,
  partitions: number = peers.length,
): UnitOwners {
  const activeInOrder = peers.filter((p) => active.includes(p));
  if (activeInOrder.length === 0) throw new DataError('no active peer left to take over the data');
  const units = peers
    .slice(0, partitions)
    .flatMap((_, rank) => Array.from({ length: shardsPerPeer }, (__, shard) => ({ rank, shard })));
  // Peers that joined after the start own no partition: the whole data set is re-cut by rank.
  if (activeInOrder.some((p) => peers.indexOf(p) >= partitions)) return splitAmong(units, activeInOrder);
  const owners: UnitOwners = {};
  peers.slice(0, partitions).forEach((peer, rank) => {
    for (let shard = 0; shard < shardsPerPeer; shard++)
      if (active.includes(peer)) owners[unitKey({ rank, shard })] = peer;
  });
  peers.slice(0, partitions).forEach((peer, rank) => {
    if (active.includes(peer)) return;
    const own = Array.from({ length: shardsPerPeer }, (_, shard) => ({ rank, shard }));
    Object.assign(owners, splitAmong(own, activeInOrder));
  });
  return owners;
}

/**
 * Mid-epoch: the units owned by `removed` peers go to `survivors` (rank order), each removed peer's units
 * split in contiguous groups. Returns a new table; the input is not changed.
 * @throws {DataError} when no survivor is left
 */
export function reassignUnits(
  owners: UnitOwners,
  removed: readonly string[],
  survivors: readonly string[],
): UnitOwners {
  if (survivors.length === 0) throw new DataError('no active peer left to take over the data');
  const next: UnitOwners = { ...owners };
  for (const peer of removed) {
    const units = unitsOf(owners, peer);
    Object.assign(next, splitAmong(units, survivors));
  }
  return next;
}

/** Units owned by `peer`, sorted by (rank, shard). */
export function unitsOf(owners: UnitOwners, peer: string): Unit[] {
  return Object.entries(owners)
    .filter(([, p]) => p === peer)
    .map(([key]) => parseUnitKey(key))
    .sort((a, b) => a.rank - b.rank || a.shard - b.shard);
}

/**
 * The batches a removed peer's units still owed when it left, from `sinceStep` to `lastStep` (inclusive) of
 * `epoch`: computed once more, by the units' new owners, as catch-up work at their next step.
 */
export function catchUpBatches(
  before: UnitOwners,
  after: UnitOwners,
  removed: readonly string[],
  epoch: number,
  sinceStep: number,
  lastStep: number,
): Record<string, BatchRef[]> {
  const out: Record<string, BatchRef[]> = {};
  for (const peer of removed) {
    for (const unit of unitsOf(before, peer)) {
      const owner = after[unitKey(unit)];
      for (let step = Math.max(0, sinceStep); step <= lastStep; step++)
        (out[owner] ??= []).push({ ...unit, epoch, step });
    }
  }
  return out;
}

/** The sample ranges a peer trains on under an assignment (its units' shards), in (rank, shard) order. */
export function ownedRanges(
  owners: UnitOwners,
  peer: string,
  total: number,
  peers: number,
  shardsPerPeer: number,
): Range[] {
  return unitsOf(owners, peer).map((u) => shardRange(total, peers, u.rank, shardsPerPeer, u.shard));
}

function splitAmong(units: readonly Unit[], peers: readonly string[]): UnitOwners {
  const out: UnitOwners = {};
  peers.forEach((peer, position) => {
    const part = splitRange({ start: 0, end: units.length }, peers.length, position, 'active peer');
    for (let i = part.start; i < part.end; i++) out[unitKey(units[i])] = peer;
  });
  return out;
}
