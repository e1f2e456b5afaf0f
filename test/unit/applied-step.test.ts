import { appliedAtOrAfter } from '../../activities/local-steps';

// A step applies once, and a step re-run on replay (at or before the last applied one) never applies again.
describe('applied-step marker', () => {
  it('orders by epoch, then step', () => {
    expect(appliedAtOrAfter(null, 1, 0)).toBe(false);
    expect(appliedAtOrAfter('1:4', 1, 5)).toBe(false);
    expect(appliedAtOrAfter('1:4', 1, 4)).toBe(true);
    expect(appliedAtOrAfter('1:4', 1, 2)).toBe(true);
    expect(appliedAtOrAfter('2:0', 1, 40)).toBe(true);
    expect(appliedAtOrAfter('1:40', 2, 0)).toBe(false);
    // 10 after 9 numerically, not as text.
    expect(appliedAtOrAfter('1:10', 1, 9)).toBe(true);
    expect(appliedAtOrAfter('garbage', 1, 0)).toBe(false);
  });
});
