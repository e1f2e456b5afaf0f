// Redistribution of failed peers' data by rank (paper III.3.10-11): pure arithmetic, no I/O.
import { DataError } from '../errors/data-error';
import { peerPartition, splitRange, type Range } from './partition';

/**
 * The sample ranges a peer trains on once some peers are inactive: its own partition, plus an equal share of
 * every inactive peer's partition. Each inactive part is split among the active peers in rank order, so all
 * peers compute the same assignment from the same (agreed) inactive list and every sample is used exactly once.
 * @throws {DataError} rank out of range, the rank itself inactive, or no active peer left
 */
export function reassignedRanges(total: number, peers: number, rank: number, inactive: readonly number[]): Range[] {
  const down = new Set(inactive);
  for (const r of down) {
    if (!Number.isInteger(r) || r < 0 || r >= peers)
      throw new DataError(`inactive peer rank ${r} out of range 0..${peers - 1}`);
  }
  if (down.has(rank)) throw new DataError(`peer rank ${rank} is itself inactive`);
  const active = Array.from({ length: peers }, (_, r) => r).filter((r) => !down.has(r));
  if (active.length === 0) throw new DataError('no active peer left to take over the data');
  const position = active.indexOf(rank);
  if (position < 0) throw new DataError(`peer rank ${rank} out of range 0..${peers - 1}`);
  const ranges = [peerPartition(total, peers, rank)];
  for (const r of [...down].sort((a, b) => a - b)) {
    const share = splitRange(peerPartition(total, peers, r), active.length, position, 'active peer');
    if (share.end > share.start) ranges.push(share);
  }
  return ranges;
}
