import type Redis from 'ioredis';
import { QueueError } from '../errors/queue-error';
import { queueKindOf, streamCap, type MessageTransport, type PeerMessage } from './types';

/**
 * The local transport: XADD straight into the recipient's Redis, over a connection the caller opens (the
 * peer's `peer:<id>` ACL user for sync messages, the public inbox user for handshake messages). Redis
 * Streams deliver once and in order, so the message id is not needed for dedup here.
 */
export class RedisStreamTransport implements MessageTransport {
  constructor(private readonly connect: (peer: string, message: PeerMessage) => Promise<Redis>) {}

  async deliver(peer: string, message: PeerMessage): Promise<void> {
    const kind = queueKindOf(message.stream);
    if (!kind) throw new QueueError(`stream ${message.stream} is not one other peers may write to`);
    const redis = await this.connect(peer, message);
    await redis.xadd(message.stream, 'MAXLEN', '~', String(streamCap(kind)), '*', ...message.fields);
  }

  async close(): Promise<void> {
    // Connections belong to the caller.
  }
}
