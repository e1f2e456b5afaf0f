import { compareStep, decodeReady, encodeReady } from '../../activities/sync-messages';

describe('sync messages', () => {
  it('round-trips a ready message', () => {
    const msg = { type: 'ready' as const, run: 'r1', peer: 'p2', epoch: 3, step: 7 };
    expect(decodeReady(encodeReady(msg))).toEqual(msg);
  });

  it('ignores malformed entries', () => {
    expect(decodeReady(['type', 'ready', 'run', 'r1', 'peer', 'p1', 'epoch', 'x', 'step', '1'])).toBeNull();
    expect(decodeReady(['type', 'other'])).toBeNull();
    expect(decodeReady([])).toBeNull();
  });

  it('orders (epoch, step) pairs', () => {
    expect(compareStep({ epoch: 1, step: 9 }, { epoch: 2, step: 0 })).toBe(-1);
    expect(compareStep({ epoch: 2, step: 1 }, { epoch: 2, step: 0 })).toBe(1);
    expect(compareStep({ epoch: 2, step: 1 }, { epoch: 2, step: 1 })).toBe(0);
  });
});
