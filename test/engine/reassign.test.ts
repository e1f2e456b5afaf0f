import { reassignedRanges } from '../../lib/data';
import { DataError } from '../../lib/errors/data-error';

describe('reassignment of inactive peers data by rank', () => {
  const covered = (total: number, peers: number, inactive: number[]) => {
    const seen = new Uint8Array(total);
    for (let r = 0; r < peers; r++) {
      if (inactive.includes(r)) continue;
      for (const { start, end } of reassignedRanges(total, peers, r, inactive))
        for (let i = start; i < end; i++) seen[i]++;
    }
    return seen;
  };

  it.each([
    [1000, 4, []],
    [1000, 4, [2]],
    [1003, 5, [0, 3]],
    [7, 4, [1, 2, 3]],
  ])('%d samples, %d peers, inactive %j: every sample used exactly once', (total, peers, inactive) => {
    expect(covered(total, peers, inactive).every((c) => c === 1)).toBe(true);
  });

  it('gives a survivor its own part first, then its share of the failed part', () => {
    expect(reassignedRanges(1000, 4, 3, [1])).toEqual([
      { start: 750, end: 1000 },
      { start: 417, end: 500 },
    ]);
  });

  it('rejects bad ranks', () => {
    expect(() => reassignedRanges(100, 4, 4, [])).toThrow(DataError);
    expect(() => reassignedRanges(100, 4, 1, [1])).toThrow(/itself inactive/);
    expect(() => reassignedRanges(100, 4, 0, [9])).toThrow(/out of range/);
  });
});
