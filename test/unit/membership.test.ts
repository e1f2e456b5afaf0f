import { agreeOnRemovals, isQuorum } from '../../lib/membership/agreement';
import { FailureDetector } from '../../lib/membership/failure-detector';

describe('failure detector', () => {
  it('suspects after N consecutive failures and clears on the next success', () => {
    const d = new FailureDetector({ suspectAfter: 2 });
    d.record('p2', { ok: true }, 0);
    expect(d.record('p2', { ok: false, reason: 'redis unreachable: connection refused' }, 500).suspected).toBe(false);
    const h = d.record('p2', { ok: false, reason: 'redis unreachable: connection refused' }, 1000);
    expect(h).toMatchObject({ suspected: true, suspectedSince: 1000, reason: 'redis unreachable: connection refused' });
    expect(d.suspects(['p1', 'p2'])).toEqual(['p2']);
    expect(d.record('p2', { ok: true }, 1500).suspected).toBe(false);
    expect(d.suspects()).toEqual([]);
  });

  it('rejects a bad threshold', () => {
    expect(() => new FailureDetector({ suspectAfter: 0 })).toThrow(RangeError);
  });
});

describe('unanimous agreement', () => {
  const active = ['p1', 'p2', 'p3', 'p4'];

  it('removes a peer every other peer suspects', () => {
    const out = agreeOnRemovals({ active, votes: { p1: ['p2'], p3: ['p2'], p4: ['p2'] } });
    expect(out).toEqual({ decided: true, removed: ['p2'], survivors: ['p1', 'p3', 'p4'] });
  });

  it('keeps a peer that one survivor does not suspect, and cannot decide while that peer is unheard', () => {
    const out = agreeOnRemovals({ active, votes: { p1: ['p2'], p3: [], p4: ['p2'] } });
    expect(out.decided).toBe(false);
    expect(out.removed).toEqual([]);
  });

  it('removes two peers that failed in the same step', () => {
    const out = agreeOnRemovals({ active, votes: { p1: ['p2', 'p4'], p3: ['p2', 'p4'] } });
    expect(out).toMatchObject({ decided: true, removed: ['p2', 'p4'] });
  });

  it('handles the failure of the lowest-rank peer like any other', () => {
    const out = agreeOnRemovals({ active, votes: { p2: ['p1'], p3: ['p1'], p4: ['p1'] } });
    expect(out).toMatchObject({ decided: true, removed: ['p1'], survivors: ['p2', 'p3', 'p4'] });
  });

  it('does not split a partitioned network in two: the half without the lowest rank does not decide', () => {
    const left = agreeOnRemovals({ active, votes: { p1: ['p3', 'p4'], p2: ['p3', 'p4'] } });
    const right = agreeOnRemovals({ active, votes: { p3: ['p1', 'p2'], p4: ['p1', 'p2'] } });
    expect(left).toMatchObject({ decided: true, removed: ['p3', 'p4'] });
    expect(right.decided).toBe(false);
  });

  it('a minority never removes the majority', () => {
    expect(agreeOnRemovals({ active, votes: { p4: ['p1', 'p2', 'p3'] } }).decided).toBe(false);
  });

  it('a peer suspected while it still voted, but by everyone else, is removed', () => {
    const out = agreeOnRemovals({ active, votes: { p1: ['p4'], p2: ['p4'], p3: ['p4'], p4: [] } });
    expect(out).toMatchObject({ decided: true, removed: ['p4'] });
  });

  it('quorum: strict majority, or half with the lowest rank', () => {
    expect(isQuorum(['p1', 'p2', 'p3'], active)).toBe(true);
    expect(isQuorum(['p1', 'p2'], active)).toBe(true);
    expect(isQuorum(['p3', 'p4'], active)).toBe(false);
    expect(isQuorum(['p1'], ['p1', 'p2'])).toBe(true);
    expect(isQuorum(['p2'], ['p1', 'p2'])).toBe(false);
  });
});
