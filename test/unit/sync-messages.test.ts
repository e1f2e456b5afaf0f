import { compareStep, decodeSync, encodeSync, type ReadyMessage } from '../../lib/protocol/sync-message';

describe('sync messages', () => {
  const msg: ReadyMessage = {
    type: 'ready',
    run: 'r1',
    peer: 'p2',
    epoch: 3,
    step: 7,
    suspects: ['p4'],
    missing: { p4: [3, 6] },
    membership: [{ epoch: 2, step: 1, peer: 'p3', change: 'removed', reason: 'suspected by p1,p2' }],
    adds: [],
    stop: null,
  };

  it('round-trips a ready message, a removal notice, a departure and a declined admission', () => {
    expect(decodeSync(encodeSync(msg))).toEqual(msg);
    const notice = { type: 'removed' as const, run: 'r1', peer: 'p1', target: 'p3', epoch: 2, step: 1, reason: 'x' };
    expect(decodeSync(encodeSync(notice))).toEqual(notice);
    const departed = { type: 'departed' as const, run: 'r1', peer: 'p4', epoch: 2, step: 5, reason: 'removed' };
    expect(decodeSync(encodeSync(departed))).toEqual(departed);
    const declined = { ...notice, type: 'declined' as const, target: 'p5', reason: 'the run ended' };
    expect(decodeSync(encodeSync(declined))).toEqual(declined);
    const noReason = encodeSync(departed).map((f) => (f.startsWith('{') ? '{}' : f));
    expect(decodeSync(noReason)).toBeNull();
  });

  it('ignores malformed entries', () => {
    const fields = encodeSync(msg);
    const withBody = (body: string) => fields.map((f, i) => (fields[i - 1] === 'body' ? body : f));
    expect(decodeSync(['type', 'ready', 'run', 'r1', 'peer', 'p1', 'epoch', 'x', 'step', '1'])).toBeNull();
    expect(decodeSync(withBody('{not json'))).toBeNull();
    expect(decodeSync(withBody(JSON.stringify({ suspects: 'p4', missing: {}, membership: [] })))).toBeNull();
    expect(decodeSync(withBody(JSON.stringify({ suspects: [], missing: { p4: 'x' }, membership: [] })))).toBeNull();
    expect(decodeSync(['type', 'other', 'run', 'r1', 'peer', 'p1', 'epoch', '1', 'step', '1'])).toBeNull();
    expect(decodeSync([])).toBeNull();
  });

  it('orders (epoch, step) pairs', () => {
    expect(compareStep({ epoch: 1, step: 9 }, { epoch: 2, step: 0 })).toBe(-1);
    expect(compareStep({ epoch: 2, step: 1 }, { epoch: 2, step: 0 })).toBe(1);
    expect(compareStep({ epoch: 2, step: 1 }, { epoch: 2, step: 1 })).toBe(0);
  });
});
