import { SecurityError } from '../errors/security-error';

/**
 * Remembers which (sender, nonce) pairs were accepted. `seen` is check-and-record in one step: it returns
 * true when the pair was recorded before (a replay), else records it and returns false. An implementation
 * must remember a nonce at least until `max(ts, its own now) + the verifier's maxSkewMs`, after which the
 * timestamp check alone refuses the message. A shared one (Redis `SET key NX PX`) is async.
 */
export interface ReplayGuard {
  seen(sender: string, nonce: string, ts: number): boolean | Promise<boolean>;
}

export interface MemoryReplayGuardOptions {
  /** How long a nonce is remembered past its timestamp; at least the verifier's maxSkewMs. @default 60000 */
  windowMs?: number;
  /** Most nonces held at once; past that, after dropping expired ones, new messages are refused. @default 100000 */
  maxEntries?: number;
  /** @default Date.now */
  clock?: () => number;
}

/**
 * A {@link ReplayGuard} for one process: a map of nonces with expiry times, pruned when it fills up or a
 * window has passed. When full of unexpired nonces it fails closed: `seen` throws
 * SecurityError('replay-capacity') rather than forget a nonce that could then be replayed.
 */
export class MemoryReplayGuard implements ReplayGuard {
  private readonly expiries = new Map<string, number>();
  private readonly windowMs: number;
  private readonly maxEntries: number;
  private readonly clock: () => number;
  private lastPrune: number;

  constructor(options: MemoryReplayGuardOptions = {}) {
    this.windowMs = options.windowMs ?? 60_000;
    this.maxEntries = options.maxEntries ?? 100_000;
    this.clock = options.clock ?? Date.now;
    this.lastPrune = this.clock();
  }

  /** Nonces held now (for tests and metrics). */
  get size(): number {
    return this.expiries.size;
  }

  seen(sender: string, nonce: string, ts: number): boolean {
    const now = this.clock();
    const key = `${sender}\u0000${nonce}`;
    const expiry = this.expiries.get(key);
    if (expiry !== undefined && expiry >= now) return true;
    if (now - this.lastPrune >= this.windowMs || this.expiries.size >= this.maxEntries) this.prune(now);
    if (this.expiries.size >= this.maxEntries) {
      throw new SecurityError(
        'replay-capacity',
        `replay guard holds ${this.maxEntries} unexpired nonces: refusing new messages until some expire`,
      );
    }
    this.expiries.set(key, Math.max(ts, now) + this.windowMs);
    return false;
  }

  private prune(now: number): void {
    for (const [key, expiry] of this.expiries) if (expiry < now) this.expiries.delete(key);
    this.lastPrune = now;
  }
}
