// The failure detector's state (paper III.3.5, made continuous): pure, driven by probe outcomes and a clock.

export interface DetectorOptions {
  /** Consecutive failed probes before a peer is suspected. @default 2 */
  suspectAfter: number;
}

export interface ProbeOutcome {
  ok: boolean;
  /** Why the probe failed: `redis unreachable: connection refused`, `heartbeat missing`, ... */
  reason?: string;
}

export interface PeerHealth {
  peer: string;
  suspected: boolean;
  consecutiveFailures: number;
  /** Time (detector clock) of the last successful probe, null before the first one. */
  lastOkAt: number | null;
  /** Time the current suspicion started, null when not suspected. */
  suspectedSince: number | null;
  reason: string | null;
}

/**
 * Suspects a peer after `suspectAfter` consecutive failed probes and clears the suspicion on the next
 * successful one. Suspicion is local and reversible; only the unanimous agreement removes a peer.
 */
export class FailureDetector {
  private readonly health = new Map<string, PeerHealth>();

  constructor(private readonly opts: DetectorOptions) {
    if (!(Number.isInteger(opts.suspectAfter) && opts.suspectAfter >= 1))
      throw new RangeError('failure detector: suspectAfter must be an integer >= 1');
  }

  record(peer: string, outcome: ProbeOutcome, now: number): PeerHealth {
    const h = this.entry(peer);
    if (outcome.ok) {
      h.consecutiveFailures = 0;
      h.lastOkAt = now;
      h.suspected = false;
      h.suspectedSince = null;
      h.reason = null;
    } else {
      h.consecutiveFailures += 1;
      h.reason = outcome.reason ?? 'probe failed';
      if (!h.suspected && h.consecutiveFailures >= this.opts.suspectAfter) {
        h.suspected = true;
        h.suspectedSince = now;
      }
    }
    return { ...h };
  }

  /** Suspected peers among `peers` (all known peers when absent), in the given order. */
  suspects(peers?: readonly string[]): string[] {
    const list = peers ?? [...this.health.keys()];
    return list.filter((p) => this.health.get(p)?.suspected === true);
  }

  get(peer: string): PeerHealth {
    return { ...this.entry(peer) };
  }

  forget(peer: string): void {
    this.health.delete(peer);
  }

  private entry(peer: string): PeerHealth {
    let h = this.health.get(peer);
    if (!h) {
      h = { peer, suspected: false, consecutiveFailures: 0, lastOkAt: null, suspectedSince: null, reason: null };
      this.health.set(peer, h);
    }
    return h;
  }
}
