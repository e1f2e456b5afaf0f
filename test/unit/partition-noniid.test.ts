import { labelSortedOrder, mapPositions, peerPartition } from '../../lib/data/partition';

describe('non-IID sorted partition', () => {
  // 1,000 samples with labels cycling 0..9.
  const labels = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) % 10);

  it('orders the samples by label, stably, each sample once', () => {
    const order = labelSortedOrder(labels, 1000, 'test-a');
    expect(new Set(order).size).toBe(1000);
    for (let i = 1; i < 1000; i++) {
      const [a, b] = [order[i - 1], order[i]];
      expect(labels[a] < labels[b] || (labels[a] === labels[b] && a < b)).toBe(true);
    }
  });

  it('gives each of 4 peers at most 3 classes, where IID gives all 10', () => {
    const order = labelSortedOrder(labels, 1000, 'test-b');
    for (let rank = 0; rank < 4; rank++) {
      const { start, end } = peerPartition(1000, 4, rank);
      const positions = Int32Array.from({ length: end - start }, (_, i) => start + i);
      const sorted = new Set(Array.from(mapPositions(positions, order), (i) => labels[i]));
      const iid = new Set(Array.from(mapPositions(positions, null), (i) => labels[i]));
      expect(sorted.size).toBeLessThanOrEqual(3);
      expect(iid.size).toBe(10);
    }
  });
});
