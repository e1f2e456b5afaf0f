import { aggregationRule } from '../../lib/aggregation/rule';

describe('aggregation rule', () => {
  it('maps config names to kernels', () => {
    expect(aggregationRule('mean', 1, 4)).toEqual({ kind: 'mean' });
    expect(aggregationRule('median', 1, 4)).toEqual({ kind: 'median' });
    expect(aggregationRule('trimmed-mean', 1, 4)).toEqual({ kind: 'trimmedMean', f: 1 });
    expect(aggregationRule('meamed', 1, 5)).toEqual({ kind: 'meamed', f: 1 });
  });

  it('lowers f so that 2f < n when fewer peers take part', () => {
    expect(aggregationRule('trimmed-mean', 2, 5)).toEqual({ kind: 'trimmedMean', f: 2 });
    expect(aggregationRule('trimmed-mean', 2, 4)).toEqual({ kind: 'trimmedMean', f: 1 });
    expect(aggregationRule('meamed', 1, 2)).toEqual({ kind: 'meamed', f: 0 });
    expect(aggregationRule('meamed', 3, 1)).toEqual({ kind: 'meamed', f: 0 });
  });
});
