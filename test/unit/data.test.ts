import {
  batchIndices,
  parseIdx,
  peerPartition,
  shardRange,
  splitRange,
  stepsPerEpoch,
  loadDataset,
} from '../../lib/data';
import { DataError } from '../../lib/errors';

function idx(dims: number[], data: number[], type = 0x08): Uint8Array {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = type;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return new Uint8Array(Buffer.concat([header, Buffer.from(data)]));
}

describe('IDX reader', () => {
  it('parses dims and data', () => {
    const parsed = parseIdx(idx([2, 2], [1, 2, 3, 4]));
    expect(parsed.dims).toEqual([2, 2]);
    expect(Array.from(parsed.data)).toEqual([1, 2, 3, 4]);
  });

  it.each([
    ['bad magic', Uint8Array.from([1, 0, 8, 1, 0, 0, 0, 1, 5]), /bad magic/],
    ['truncated data', idx([3], [1, 2]), /truncated/],
    ['trailing bytes', idx([1], [1, 2]), /trailing/],
    ['unsupported type', idx([1], [0, 0, 0, 1], 0x0c), /int is not supported/],
    ['unknown type', idx([1], [1], 0x42), /unknown IDX element type/],
    ['too short', Uint8Array.from([0, 0]), /too short/],
    ['zero dimension', idx([0], []), /dimension 0 is 0/],
  ])('rejects %s with a DataError', (_name, bytes, message) => {
    expect(() => parseIdx(bytes)).toThrow(DataError);
    expect(() => parseIdx(bytes)).toThrow(message);
  });

  it('loads the real MNIST files with the right sizes', () => {
    const train = loadDataset('mnist', 'train');
    const test = loadDataset('mnist', 'test');
    expect([train.count, train.rows, train.cols]).toEqual([60000, 28, 28]);
    expect(test.count).toBe(10000);
    expect(Math.max(...Array.from(test.labels.subarray(0, 1000)))).toBe(9);
  });
});

describe('partitioning', () => {
  it('splits a range into disjoint parts covering it, sizes differing by at most one', () => {
    const total = 1003;
    const parts = Array.from({ length: 7 }, (_, i) => splitRange({ start: 0, end: total }, 7, i));
    expect(parts[0].start).toBe(0);
    for (let i = 1; i < parts.length; i++) expect(parts[i].start).toBe(parts[i - 1].end);
    expect(parts[6].end).toBe(total);
    const sizes = parts.map((p) => p.end - p.start);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
  });

  it('rejects out-of-range ranks and shards', () => {
    expect(() => peerPartition(100, 4, 4)).toThrow(/peer rank 4 out of range 0..3/);
    expect(() => shardRange(100, 4, 0, 2, 2)).toThrow(/shard 2 out of range/);
    expect(() => stepsPerEpoch(3, 4, 1, 1)).toThrow(/too few/);
  });

  it('counts steps from the smallest shard and honours the cap', () => {
    expect(stepsPerEpoch(60000, 4, 2, 64)).toBe(Math.ceil(7500 / 64));
    expect(stepsPerEpoch(60000, 4, 2, 64, 10)).toBe(10);
  });

  it('shuffles a shard deterministically per epoch and covers it without repeats', () => {
    const shard = { start: 100, end: 200 };
    const key = { seed: 1, epoch: 1, rank: 0, shard: 0 };
    const all = [0, 1, 2, 3].flatMap((step) => Array.from(batchIndices(shard, 25, step, key)));
    expect(new Set(all).size).toBe(100);
    expect(Math.min(...all)).toBe(100);
    expect(Math.max(...all)).toBe(199);
    expect(Array.from(batchIndices(shard, 25, 0, key))).toEqual(Array.from(batchIndices(shard, 25, 0, key)));
    expect(Array.from(batchIndices(shard, 25, 0, { ...key, epoch: 2 }))).not.toEqual(
      Array.from(batchIndices(shard, 25, 0, key)),
    );
    expect(() => batchIndices(shard, 25, 4, key)).toThrow(/past the end/);
  });
});
