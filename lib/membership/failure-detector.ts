// The failure detector's state (paper III.3.5, made continuous): pure, driven by probe outcomes and a clock.
//
// A peer is suspected when its Redis stops answering (`suspectAfter` consecutive failed probes) or when its
// worker's heartbeat stops changing for `heartbeatStaleMs` (measured on this detector's clock, so the
// peers' clocks never need to agree). Both thresholds are per query: runs with different settings can
// share one detector.

export interface SuspicionOptions {
  /** Consecutive failed probes before suspicion. */
  suspectAfter: number;
  /** A heartbeat value unchanged (or absent) this long means the peer's worker is down. */
  heartbeatStaleMs: number;
}

export interface ProbeOutcome {
  /** The peer's Redis answered. */
  ok: boolean;
  /** Why the probe failed: `connection refused`, `timed out`, ... */
  reason?: string;
  /** The heartbeat value read (null when the key is absent). */
  beat?: string | null;
}

export interface PeerHealth {
  peer: string;
  suspected: boolean;
  /** Detector time from which the peer counts as suspected, null when not suspected. */
  since: number | null;
  reason: string | null;
}

interface State {
  failures: number;
  /** Time of the probe that reached each failure count (index = count - 1). */
  failureTimes: number[];
  lastReason: string | null;
  beat: string | null;
  /** When the heartbeat value last changed (or was first seen). */
  beatChangedAt: number;
}

export class FailureDetector {
  private readonly peers = new Map<string, State>();

  record(peer: string, outcome: ProbeOutcome, now: number): void {
    let s = this.peers.get(peer);
    if (!s) {
      s = { failures: 0, failureTimes: [], lastReason: null, beat: null, beatChangedAt: now };
      this.peers.set(peer, s);
    }
    if (!outcome.ok) {
      s.failures += 1;
      if (s.failureTimes.length < 100) s.failureTimes.push(now);
      s.lastReason = outcome.reason ?? 'probe failed';
      return;
    }
    s.failures = 0;
    s.failureTimes = [];
    s.lastReason = null;
    const beat = outcome.beat ?? null;
    if (beat !== null && beat !== s.beat) {
      s.beat = beat;
      s.beatChangedAt = now;
    }
  }

  health(peer: string, opts: SuspicionOptions, now: number): PeerHealth {
    if (!(Number.isInteger(opts.suspectAfter) && opts.suspectAfter >= 1))
      throw new RangeError('failure detector: suspectAfter must be an integer >= 1');
    const s = this.peers.get(peer);
    if (!s) return { peer, suspected: false, since: null, reason: null };
    if (s.failures >= opts.suspectAfter) {
      return {
        peer,
        suspected: true,
        since: s.failureTimes[opts.suspectAfter - 1] ?? now,
        reason: `redis unreachable: ${s.lastReason}`,
      };
    }
    if (now - s.beatChangedAt >= opts.heartbeatStaleMs) {
      const why = s.beat === null ? 'heartbeat missing' : `heartbeat stale for ${now - s.beatChangedAt} ms`;
      return { peer, suspected: true, since: s.beatChangedAt + opts.heartbeatStaleMs, reason: `${why} (worker down?)` };
    }
    return { peer, suspected: false, since: null, reason: null };
  }

  forget(peer: string): void {
    this.peers.delete(peer);
  }
}
