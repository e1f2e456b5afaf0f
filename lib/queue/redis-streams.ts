import type Redis from 'ioredis';
import { QueueError } from '../errors/queue-error';
import { connectRedis } from '../redis/connect';
import { queueKindOf, streamCap, type InboxRoute, type MessageTransport, type PeerMessage } from './types';

/**
 * The local transport: XADD straight into the recipient's Redis. Sync messages go over `connection(peer)`
 * (the peer's `peer:<id>` ACL user; the connection belongs to the caller). A handshake message with a
 * route goes in as the recipient's public inbox user, over a connection of its own: the recipient may not
 * know the sender yet. Redis Streams deliver once and in order, so the message id is not needed for dedup.
 */
export class RedisStreamTransport implements MessageTransport {
  constructor(private readonly connection: (peer: string) => Promise<Redis>) {}

  async deliver(peer: string, message: PeerMessage, route?: InboxRoute): Promise<void> {
    const kind = queueKindOf(message.stream);
    if (!kind) throw new QueueError(`stream ${message.stream} is not one other peers may write to`);
    const append = (redis: Redis) =>
      redis.xadd(message.stream, 'MAXLEN', '~', String(streamCap(kind)), '*', ...message.fields);
    if (kind === 'sync' || !route) {
      await append(await this.connection(peer));
      return;
    }
    const box = await connectRedis({ ...route.redis, ...route.inbox }, { name: 'spirt-handshake' });
    try {
      await append(box);
    } finally {
      box.disconnect();
    }
  }

  async close(): Promise<void> {
    // Sync connections belong to the caller; inbox connections are closed after each message.
  }
}
