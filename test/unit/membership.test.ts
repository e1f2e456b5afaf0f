import { addSignalOutcome, agreeOnRemovals, isQuorum, promoteDeferredAdds } from '../../lib/membership/agreement';
import { FailureDetector } from '../../lib/membership/failure-detector';

describe('failure detector', () => {
  const opts = { suspectAfter: 2, heartbeatStaleMs: 1500 };

  it('suspects a peer whose Redis fails N probes in a row, and clears it on the next answer', () => {
    const d = new FailureDetector();
    d.record('p2', { ok: true, beat: 'a:1' }, 0);
    d.record('p2', { ok: false, reason: 'connection refused' }, 500);
    expect(d.health('p2', opts, 500).suspected).toBe(false);
    d.record('p2', { ok: false, reason: 'connection refused' }, 1000);
    expect(d.health('p2', opts, 1000)).toEqual({
      peer: 'p2',
      suspected: true,
      since: 1000,
      reason: 'redis unreachable: connection refused',
    });
    d.record('p2', { ok: true, beat: 'a:2' }, 1200);
    expect(d.health('p2', opts, 1200).suspected).toBe(false);
  });

  it('suspects a peer whose heartbeat stops changing, on its own clock, with per-run thresholds', () => {
    const d = new FailureDetector();
    d.record('p3', { ok: true, beat: 'a:1' }, 0);
    d.record('p3', { ok: true, beat: 'a:2' }, 400);
    d.record('p3', { ok: true, beat: 'a:2' }, 1800);
    expect(d.health('p3', opts, 1800).suspected).toBe(false);
    d.record('p3', { ok: true, beat: 'a:2' }, 2000);
    expect(d.health('p3', opts, 2000)).toMatchObject({ suspected: true, since: 1900 });
    expect(d.health('p3', opts, 2000).reason).toMatch(/heartbeat stale/);
    // A run that tolerates long worker restarts does not suspect it yet.
    expect(d.health('p3', { suspectAfter: 2, heartbeatStaleMs: 60_000 }, 2000).suspected).toBe(false);
    // A restarted worker writes a new value: trusted by the detector again (the agreement decides membership).
    d.record('p3', { ok: true, beat: 'b:1' }, 2100);
    expect(d.health('p3', opts, 2100).suspected).toBe(false);
  });

  it('a peer whose heartbeat key is missing altogether is suspected after the stale time', () => {
    const d = new FailureDetector();
    d.record('p4', { ok: true, beat: null }, 0);
    expect(d.health('p4', opts, 1000).suspected).toBe(false);
    expect(d.health('p4', opts, 1500).reason).toMatch(/heartbeat missing/);
  });

  it('rejects a bad threshold', () => {
    const d = new FailureDetector();
    expect(() => d.health('p1', { suspectAfter: 0, heartbeatStaleMs: 1 }, 0)).toThrow(RangeError);
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

describe('addPeer signals', () => {
  const state = { active: ['p1', 'p2', 'p3', 'p4'], leaving: ['p4'], pending: ['p5'] };

  it('queues a peer that is not active, once', () => {
    expect(addSignalOutcome('p6', state)).toBe('queue');
    expect(addSignalOutcome('p5', state)).toBe('queued');
  });

  it('queues a peer still active but leaving: its rejoin can be signalled before the step that removes it', () => {
    // The rejoin fault test lost p4's add this way: the epoch's first workflow task held the addPeer signal,
    // and the removal the operator asked for in the epoch before happens at that epoch's step 0.
    expect(addSignalOutcome('p4', state)).toBe('queue-leaving');
  });

  it('tells an active peer that is staying apart (its add is deferred until it leaves)', () => {
    expect(addSignalOutcome('p2', state)).toBe('active');
    expect(addSignalOutcome('p4', { ...state, leaving: [] })).toBe('active');
  });

  it('moves a deferred add to the queue once its peer leaves, and only then', () => {
    const adds = { pending: ['p5'], deferred: ['p2', 'p3'] };
    expect(promoteDeferredAdds(adds, ['p4'])).toBe(adds);
    expect(promoteDeferredAdds(adds, ['p3'])).toEqual({ pending: ['p5', 'p3'], deferred: ['p2'] });
    expect(promoteDeferredAdds(adds, ['p2', 'p3'])).toEqual({ pending: ['p5', 'p2', 'p3'], deferred: [] });
    // Already queued (its add came again after it left): queued once.
    expect(promoteDeferredAdds({ pending: ['p2'], deferred: ['p2'] }, ['p2'])).toEqual({
      pending: ['p2'],
      deferred: [],
    });
  });
});
