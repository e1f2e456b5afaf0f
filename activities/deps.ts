import type Redis from 'ioredis';
import type { Invoker } from '../lib/invoker/types';
import type { Logger } from '../lib/log';
import { connectRedis, type RedisEndpoint } from '../lib/redis/connect';
import { StackError } from '../lib/errors/stack-error';

/**
 * Redis endpoints of the peers this worker may talk to, with their credentials (which stay in the
 * worker process). Connections are opened once and reused.
 */
export class PeerDirectory {
  private readonly clients = new Map<string, Promise<Redis>>();

  constructor(private readonly endpoints: Record<string, RedisEndpoint>) {}

  has(peerId: string): boolean {
    return peerId in this.endpoints;
  }

  /** @throws StackError for a peer this worker does not know, or whose Redis is unreachable. */
  connection(peerId: string): Promise<Redis> {
    let client = this.clients.get(peerId);
    if (!client) {
      const endpoint = this.endpoints[peerId];
      if (!endpoint) return Promise.reject(new StackError(`unknown peer "${peerId}"`));
      client = connectRedis(endpoint, { name: 'spirt-worker' });
      this.clients.set(peerId, client);
      client.catch(() => this.clients.delete(peerId));
    }
    return client;
  }

  async close(): Promise<void> {
    const all = [...this.clients.values()];
    this.clients.clear();
    await Promise.all(all.map((c) => c.then((r) => r.disconnect()).catch(() => undefined)));
  }
}

/** What every activity of one peer's worker needs; built once per worker. */
export interface ActivityDeps {
  /** This worker's peer id; its Redis is `directory.connection(peerId)`. */
  peerId: string;
  directory: PeerDirectory;
  invoker: Invoker;
  log: Logger;
}
