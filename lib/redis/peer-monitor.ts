// The failure detector's driver in a peer's worker (paper III.3.5, run continuously instead of once per
// epoch): keeps this peer's heartbeat fresh in its own Redis and probes every watched peer on an interval.
// The decisions are in lib/membership/failure-detector.ts; this file only does the I/O.
import { randomBytes } from 'node:crypto';
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
  /** A worker whose heartbeat has not changed this long is considered down. @default 1500 */
  heartbeatStaleMs: number;
  /** @default 400 */
  heartbeatIntervalMs: number;
}

export const DEFAULT_WATCH: WatchOptions = {
  probeIntervalMs: 500,
  probeTimeoutMs: 500,
  suspectAfter: 2,
  heartbeatStaleMs: 1500,
  heartbeatIntervalMs: 400,
};

interface Watch {
  peers: Set<string>;
  opts: WatchOptions;
  refreshedAt: number;
  /** Peers this run currently counts as suspected (to record transitions once). */
  suspected: Set<string>;
}

/** A run's watch lapses when no step refreshed it for this long (the run ended or moved away). */
const WATCH_LAPSE_MS = 15 * 60_000;
/** The heartbeat key outlives its writer by this much; staleness is judged by the value not changing. */
const HEARTBEAT_KEY_TTL_MS = 60_000;

/**
 * Signs this peer's heartbeat values and checks other peers' (ARCHITECTURE.md section 8). A value is
 * `<boot>:<counter>.<signature>`; the signature binds the writer's peer id, so a value copied from another
 * peer's database does not verify, and a replayed one does not change, so it goes stale.
 */
export interface HeartbeatSigner {
  sign(value: string): string;
  /** @returns null when `signed` is a valid heartbeat of `peer`, else the reason */
  check(peer: string, signed: string): Promise<string | null>;
}

export class PeerMonitor {
  private readonly detector = new FailureDetector();
  private readonly watches = new Map<string, Watch>();
  private readonly loops = new Map<string, NodeJS.Timeout>();
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** The heartbeat value is `<boot id>:<counter>`: it changes on every write, and a restart is visible. */
  private readonly boot = randomBytes(4).toString('hex');
  private beats = 0;

  constructor(
    private readonly directory: PeerDirectory,
    private readonly selfId: string,
    private readonly log: Logger,
    private readonly defaults: WatchOptions = DEFAULT_WATCH,
    private readonly signer?: HeartbeatSigner,
  ) {}

  /** Starts writing the heartbeat. */
  start(): void {
    if (this.heartbeatTimer || this.stopped) return;
    const beat = async () => {
      try {
        const redis = await this.directory.connection(this.selfId);
        const value = `${this.boot}:${++this.beats}`;
        const stored = this.signer ? `${value}.${this.signer.sign(value)}` : value;
        await redis.set(peerKeys.heartbeat, stored, 'PX', HEARTBEAT_KEY_TTL_MS);
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'heartbeat not written (own Redis unreachable)');
      }
    };
    const interval = () =>
      Math.min(this.defaults.heartbeatIntervalMs, ...[...this.watches.values()].map((w) => w.opts.heartbeatIntervalMs));
    const tick = () => {
      if (this.stopped) return;
      void beat().finally(() => {
        if (!this.stopped) this.heartbeatTimer = setTimeout(tick, interval());
      });
    };
    tick();
  }

  /**
   * Watches `peers` for `run` (refreshing the watch), starts probing new ones, and returns the health of each
   * under the run's options. The first call for a peer waits for one probe.
   */
  async watch(run: string, peers: readonly string[], opts: Partial<WatchOptions> = {}): Promise<PeerHealth[]> {
    const merged: WatchOptions = { ...this.defaults, ...opts };
    const previous = this.watches.get(run);
    this.watches.set(run, {
      peers: new Set(peers.filter((p) => p !== this.selfId)),
      opts: merged,
      refreshedAt: Date.now(),
      suspected: previous?.suspected ?? new Set(),
    });
    const fresh = peers.filter((p) => p !== this.selfId && !this.loops.has(p));
    await Promise.all(fresh.map((p) => this.probeOnce(p)));
    for (const p of fresh) this.schedule(p);
    return this.health(run, peers);
  }

  /** The health of `peers` under `run`'s options (defaults when the run watches nothing yet). */
  health(run: string, peers: readonly string[]): PeerHealth[] {
    const opts = this.watches.get(run)?.opts ?? this.defaults;
    const now = Date.now();
    return peers.filter((p) => p !== this.selfId).map((p) => this.detector.health(p, opts, now));
  }

  /** Suspected peers among `peers` for `run`, with the reason of each. */
  suspects(run: string, peers: readonly string[]): PeerHealth[] {
    return this.health(run, peers).filter((h) => h.suspected);
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

  private watchersOf(peer: string): [string, Watch][] {
    const now = Date.now();
    const out: [string, Watch][] = [];
    for (const [run, w] of this.watches) {
      if (now - w.refreshedAt > WATCH_LAPSE_MS) {
        this.watches.delete(run);
        continue;
      }
      if (w.peers.has(peer)) out.push([run, w]);
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
    const every = Math.min(...watchers.map(([, w]) => w.opts.probeIntervalMs));
    this.loops.set(
      peer,
      setTimeout(() => void this.probeOnce(peer).finally(() => this.schedule(peer)), every),
    );
  }

  private async probeOnce(peer: string): Promise<void> {
    const watchers = this.watchersOf(peer);
    const timeout = Math.min(this.defaults.probeTimeoutMs, ...watchers.map(([, w]) => w.opts.probeTimeoutMs));
    try {
      const beat = await this.directory.probe(peer, peerKeys.heartbeat, timeout);
      const refused = beat !== null && this.signer ? await this.signer.check(peer, beat) : null;
      if (refused) throw new Error(`heartbeat refused: ${refused}`);
      this.detector.record(peer, { ok: true, beat }, Date.now());
    } catch (err) {
      this.detector.record(peer, { ok: false, reason: (err as Error).message }, Date.now());
    }
    if (this.stopped) return;
    const now = Date.now();
    for (const [run, w] of watchers) {
      const h = this.detector.health(peer, w.opts, now);
      if (h.suspected === w.suspected.has(peer)) continue;
      if (h.suspected) w.suspected.add(peer);
      else w.suspected.delete(peer);
      await this.record(run, peer, h);
    }
  }

  /** A change of suspicion, in the worker log and the run's membership stream (with its detector time). */
  private async record(run: string, peer: string, h: PeerHealth): Promise<void> {
    const event = h.suspected ? 'suspected' : 'recovered';
    if (h.suspected) this.log.warn({ run, peer, reason: h.reason }, 'peer suspected');
    else this.log.info({ run, peer }, 'peer answers again');
    try {
      const redis = await this.directory.connection(this.selfId);
      await redis.xadd(
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
      );
    } catch {
      // Own Redis down: this peer's own workflow will notice; nothing to record.
    }
  }
}
