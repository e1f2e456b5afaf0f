// Pure partitioning arithmetic (no I/O): which samples a peer, a shard and a step use.
import { DataError } from '../errors/data-error';

export interface Range {
  start: number;
  end: number;
}

/** Contiguous split of [0, total) into `parts` near-equal ranges; part i gets one extra while i < total % parts. */
export function splitRange(range: Range, parts: number, index: number, what = 'part'): Range {
  if (!Number.isInteger(parts) || parts < 1) throw new DataError(`${what}: count must be a positive integer`);
  if (!Number.isInteger(index) || index < 0 || index >= parts) {
    throw new DataError(`${what} ${index} out of range 0..${parts - 1}`);
  }
  const total = range.end - range.start;
  const base = Math.floor(total / parts);
  const extra = total % parts;
  const start = range.start + index * base + Math.min(index, extra);
  return { start, end: start + base + (index < extra ? 1 : 0) };
}

/** The samples of the peer with this rank. */
export function peerPartition(total: number, peers: number, rank: number): Range {
  return splitRange({ start: 0, end: total }, peers, rank, 'peer rank');
}

/** The samples of one shard of a peer's partition. */
export function shardRange(total: number, peers: number, rank: number, shards: number, shard: number): Range {
  const range = splitRange(peerPartition(total, peers, rank), shards, shard, 'shard');
  if (range.end <= range.start) throw new DataError(`shard ${shard} of peer rank ${rank} is empty (too few samples)`);
  return range;
}

/** Steps per epoch: every shard processes one batch per step; the smallest shard sets the count. */
export function stepsPerEpoch(total: number, peers: number, shards: number, batch: number, maxSteps?: number): number {
  const smallestShard = Math.floor(Math.floor(total / peers) / shards);
  if (smallestShard < 1) throw new DataError(`${total} samples are too few for ${peers} peers x ${shards} shards`);
  const steps = Math.ceil(smallestShard / batch);
  return maxSteps ? Math.min(steps, maxSteps) : steps;
}

/** Deterministic 32-bit PRNG (mulberry32). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mixSeed(...parts: number[]): number {
  let h = 2166136261;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 16777619);
    h ^= h >>> 13;
  }
  return h >>> 0;
}

/**
 * Sample indices of one batch: the shard is shuffled per (seed, epoch, rank, shard) and cut into
 * consecutive batches; the last batch may be shorter.
 * @throws DataError when the step is past the end of the shard.
 */
export function batchIndices(
  shard: Range,
  batch: number,
  step: number,
  key: { seed: number; epoch: number; rank: number; shard: number },
): Int32Array {
  const length = shard.end - shard.start;
  const from = step * batch;
  if (step < 0 || from >= length) throw new DataError(`step ${step} is past the end of a ${length}-sample shard`);
  const order = new Int32Array(length);
  for (let i = 0; i < length; i++) order[i] = shard.start + i;
  const random = mulberry32(mixSeed(key.seed, key.epoch, key.rank, key.shard));
  for (let i = length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order.slice(from, Math.min(from + batch, length));
}

/** How the training samples are dealt to the peers' partitions. */
export type PartitionKind = 'iid' | 'sorted';

const sortedOrders = new Map<string, Int32Array>();

/**
 * Non-IID "sorted shards" (McMahan et al. 2017): the first `total` samples ordered by label (stable, so
 * ties keep their index order), so that each peer's contiguous partition holds few classes. Positions in
 * the partitions index this order. Cached per labels array and total.
 */
export function labelSortedOrder(labels: Uint8Array, total: number, cacheKey: string): Int32Array {
  const key = `${cacheKey}:${total}`;
  let order = sortedOrders.get(key);
  if (!order) {
    const counts = new Int32Array(256);
    for (let i = 0; i < total; i++) counts[labels[i]]++;
    const next = new Int32Array(256);
    for (let c = 1; c < 256; c++) next[c] = next[c - 1] + counts[c - 1];
    order = new Int32Array(total);
    for (let i = 0; i < total; i++) order[next[labels[i]]++] = i;
    sortedOrders.set(key, order);
  }
  return order;
}

/** Dataset indices of a batch: positions in the partition space mapped through the partition's order. */
export function mapPositions(positions: Int32Array, order: Int32Array | null): Int32Array {
  if (!order) return positions;
  return positions.map((p) => order[p]);
}

/**
 * Zeno's validation batch at (epoch, step) for the peer of this rank: a seeded draw of `batch` positions (at
 * most the partition's size) from the peer's own partition, on a random stream of its own. Positions, to be
 * mapped through the partition order (`mapPositions`).
 */
export function zenoValidationPositions(
  total: number,
  peers: number,
  rank: number,
  batch: number,
  key: { seed: number; epoch: number; step: number },
): Int32Array {
  const part = peerPartition(total, peers, rank);
  const size = Math.min(batch, part.end - part.start);
  const steps = Math.max(1, Math.floor((part.end - part.start) / size));
  return batchIndices(part, size, key.step % steps, {
    seed: key.seed ^ 0x2e40,
    epoch: key.epoch,
    rank,
    shard: 1_000_003,
  });
}
