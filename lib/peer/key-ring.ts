import type Redis from 'ioredis';
import { readTrustedPeer } from './trust';

/**
 * Other peers' public signing keys, as this peer's handshake verified them (its trusted-peer table), cached
 * in memory. A peer that is not in the table has no key: whatever it signs is refused.
 */
export class KeyRing {
  private readonly cache = new Map<string, string>();

  constructor(
    private readonly own: () => Promise<Redis>,
    /** This peer's own public signing key (it verifies its own entries too). */
    private readonly self: { peer: string; signingKey: string },
  ) {}

  async signingKey(peer: string): Promise<string | null> {
    if (peer === this.self.peer) return this.self.signingKey;
    const cached = this.cache.get(peer);
    if (cached) return cached;
    const trusted = await readTrustedPeer(await this.own(), peer);
    if (!trusted) return null;
    this.cache.set(peer, trusted.signingKey);
    return trusted.signingKey;
  }

  /** Drops a cached key (a revoked or re-enrolled peer). */
  forget(peer: string): void {
    this.cache.delete(peer);
  }
}
