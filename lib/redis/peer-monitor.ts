// The failure detector's driver in a peer's worker (paper III.3.5, run continuously instead of once per
// epoch): keeps this peer's heartbeat key fresh in its own Redis and probes every watched peer on an
// interval. The decisions are in lib/membership/failure-detector.ts; this file only does the I/O.
import type { Logger } from '../log';
import { FailureDetector, type PeerHealth } from '../membership/failure-detector';
import { peerKeys, runKeys } from './keys';
import type { PeerDirectory } from './peer-directory';

/** How a run wants its peers watched (from its config). */
export interface WatchOptions {
  /** @default 500 */
  probeIntervalMs: number;
  /** @default 500 */
  probeTimeoutMs: number;
  /** Consecutive failed probes before suspicion. @default 2 */
  suspectAfter: number;
  /** Heartbeat expiry: a worker silent this long is considered down. @default 2000 */
  heartbeatStaleMs: number;
  /** @default 400 */
  heartbeatIntervalMs: number;
}

interface Watch {
  peers: Set<string>;
  opts: WatchOptions;
  refreshedAt: number;
}

/** A run's watch lapses when no step refreshed it for this long (the run ended or moved away). */
const WATCH_LAPSE_MS = 15 * 60_000;

export class PeerMonitor {
  private readonly detector: FailureDetector;
  private readonly watches = new Map<string, Watch>();
  private readonly loops = new Map<string, NodeJS.Timeout>();
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly directory: PeerDirectory,
    private readonly selfId: string,
    private readonly log: Logger,
    private readonly defaults: WatchOptions = DEFAULT_WATCH,
  ) {
    this.detector = new FailureDetector({ suspectAfter: defaults.suspectAfter });
  }

  /** Starts writing the heartbeat. */
  start(): void {
    if (this.heartbeatTimer || this.stopped) return;
    const beat = async () => {
      if (this.stopped) return;
      const ttl = Math.max(
        this.defaults.heartbeatStaleMs,
        ...[...this.watches.values()].map((w) => w.opts.heartbeatStaleMs),
      );
      try {
        const redis = await this.directory.connection(this.selfId);
        await redis.set(peerKeys.heartbeat, String(Date.now()), 'PX', ttl);
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'heartbeat not written (own Redis unreachable)');
      }
    };
    const interval = () =>
      Math.min(this.defaults.heartbeatIntervalMs, ...[...this.watches.values()].map((w) => w.opts.heartbeatIntervalMs));
    const tick = () => {
      void beat().finally(() => {
        if (!this.stopped) this.heartbeatTimer = setTimeout(tick, interval());
      });
    };
    tick();
  }

  /**
   * Watches `peers` for `run` (refreshing the watch), starts probing new ones, and returns the current health
   * of each. The first call for a peer waits for one probe, so a peer that is already down is reported at once.
   */
  async watch(run: string, peers: readonly string[], opts: Partial<WatchOptions> = {}): Promise<PeerHealth[]> {
    const merged: WatchOptions = { ...this.defaults, ...opts };
    this.watches.set(run, { peers: new Set(peers), opts: merged, refreshedAt: Date.now() });
    const fresh = peers.filter((p) => p !== this.selfId && !this.loops.has(p));
    await Promise.all(fresh.map((p) => this.probeOnce(p)));
    for (const p of fresh) this.schedule(p);
    return peers.filter((p) => p !== this.selfId).map((p) => this.detector.get(p));
  }

  /** Suspected peers among `peers` with the reason of each. */
  suspects(peers: readonly string[]): PeerHealth[] {
    return this.detector.suspects(peers.filter((p) => p !== this.selfId)).map((p) => this.detector.get(p));
  }

  health(peer: string): PeerHealth {
    return this.detector.get(peer);
  }

  /** Stops probing a peer for `run` (it left the run); other runs may still watch it. */
  unwatch(run: string, peer: string): void {
    this.watches.get(run)?.peers.delete(peer);
  }

  stop(): void {
    this.stopped = true;
    if (this.heartbeatTimer) clearTimeout(this.heartbeatTimer);
    for (const t of this.loops.values()) clearTimeout(t);
    this.loops.clear();
  }

  private watchersOf(peer: string): { run: string; opts: WatchOptions }[] {
    const now = Date.now();
    const out: { run: string; opts: WatchOptions }[] = [];
    for (const [run, w] of this.watches) {
      if (now - w.refreshedAt > WATCH_LAPSE_MS) {
        this.watches.delete(run);
        continue;
      }
      if (w.peers.has(peer)) out.push({ run, opts: w.opts });
    }
    return out;
  }

  private schedule(peer: string): void {
    const watchers = this.watchersOf(peer);
    if (this.stopped || watchers.length === 0) {
      this.loops.delete(peer);
      this.detector.forget(peer);
      return;
    }
    const every = Math.min(...watchers.map((w) => w.opts.probeIntervalMs));
    this.loops.set(
      peer,
      setTimeout(() => void this.probeOnce(peer).finally(() => this.schedule(peer)), every),
    );
  }

  private async probeOnce(peer: string): Promise<void> {
    const watchers = this.watchersOf(peer);
    const timeout = Math.min(...watchers.map((w) => w.opts.probeTimeoutMs), this.defaults.probeTimeoutMs * 4);
    const suspectAfter = Math.min(...watchers.map((w) => w.opts.suspectAfter));
    const before = this.detector.get(peer);
    let outcome: { ok: boolean; reason?: string };
    try {
      const beat = await this.directory.probe(peer, peerKeys.heartbeat, timeout);
      outcome = beat === null ? { ok: false, reason: 'heartbeat missing (worker down?)' } : { ok: true };
    } catch (err) {
      outcome = { ok: false, reason: `redis unreachable: ${(err as Error).message}` };
    }
    if (this.stopped) return;
    // The detector's threshold is per worker; a run asking for a lower one gets it through forceSuspect.
    let after = this.detector.record(peer, outcome, Date.now());
    if (!after.suspected && !outcome.ok && after.consecutiveFailures >= suspectAfter)
      after = this.force(peer, outcome.reason);
    if (after.suspected !== before.suspected)
      await this.announce(
        peer,
        after,
        watchers.map((w) => w.run),
      );
  }

  private force(peer: string, reason?: string): PeerHealth {
    let h = this.detector.get(peer);
    while (!h.suspected) h = this.detector.record(peer, { ok: false, reason }, Date.now());
    return h;
  }

  private async announce(peer: string, h: PeerHealth, runs: string[]): Promise<void> {
    const event = h.suspected ? 'suspected' : 'recovered';
    if (h.suspected) this.log.warn({ peer, reason: h.reason }, 'peer suspected');
    else this.log.info({ peer }, 'peer answers again');
    try {
      const redis = await this.directory.connection(this.selfId);
      await Promise.all(
        runs.map((run) =>
          redis.xadd(
            runKeys(run).membershipStream,
            'MAXLEN',
            '~',
            '1000',
            '*',
            'event',
            event,
            'peer',
            peer,
            'reason',
            h.reason ?? '',
          ),
        ),
      );
    } catch {
      // Own Redis down: this peer's own workflow will notice; nothing to record.
    }
  }
}

export const DEFAULT_WATCH: WatchOptions = {
  probeIntervalMs: 500,
  probeTimeoutMs: 500,
  suspectAfter: 2,
  heartbeatStaleMs: 2000,
  heartbeatIntervalMs: 400,
};
