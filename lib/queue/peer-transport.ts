// A worker's messages to other peers, whatever each recipient's transport: a peer whose queues are known
// (from the handshake route, the network file, or its trusted-peer record when it joined later) gets them
// through SQS; any other peer straight into its Redis streams. A network may mix the two.
import { SQSClient } from '@aws-sdk/client-sqs';
import type Redis from 'ioredis';
import { QueueError } from '../errors/queue-error';
import type { NetworkFile, PeerQueues } from '../peer/network-file';
import { RedisStreamTransport } from './redis-streams';
import { SqsTransport, type SqsSend } from './sqs';
import { queueKindOf, type InboxRoute, type MessageTransport, type PeerMessage } from './types';

export interface PeerTransportOptions {
  /** The network file: the peers' queue URLs and the SQS settings (null: Redis streams only). */
  network: NetworkFile | null;
  /** A connection to `peer`'s Redis as this peer's database user (the peer directory's). */
  connection: (peer: string) => Promise<Redis>;
  /** Queues of a peer the network file does not list (one that joined later), from its trusted record. */
  queuesOf?: (peer: string) => Promise<PeerQueues | undefined>;
  /** The SQS client. @default one from the network file's `queues` settings, when it has them */
  sqs?: SqsSend;
}

export class PeerTransport implements MessageTransport {
  private readonly streams: RedisStreamTransport;
  private readonly sqs: SqsTransport | null;

  constructor(private readonly opts: PeerTransportOptions) {
    this.streams = new RedisStreamTransport(opts.connection);
    const settings = opts.network?.queues;
    const client = opts.sqs ?? (settings ? sqsClientFor(settings) : null);
    this.sqs = client ? new SqsTransport({ client }) : null;
  }

  /** Whether messages to `peer` go through SQS (its queues are known). */
  async queuesFor(peer: string, route?: InboxRoute): Promise<PeerQueues | undefined> {
    const known = route?.queues ?? this.opts.network?.peers.find((p) => p.id === peer)?.queues;
    // Only a network that uses SQS can have a later peer with queues: elsewhere, no lookup on the send path.
    if (known || !this.sqs) return known;
    return this.opts.queuesOf?.(peer);
  }

  async deliver(peer: string, message: PeerMessage, route?: InboxRoute): Promise<void> {
    const kind = queueKindOf(message.stream);
    if (!kind) throw new QueueError(`stream ${message.stream} is not one other peers may write to`);
    const queues = await this.queuesFor(peer, route);
    if (!queues) return this.streams.deliver(peer, message, route);
    if (!this.sqs)
      throw new QueueError(
        `peer ${peer} receives through SQS, but this peer's network file has no "queues" settings (region, endpoint)`,
      );
    await this.sqs.sendTo(queues[kind], message, peer);
  }

  async close(): Promise<void> {
    await this.sqs?.close();
  }
}

/** An SQS client for the network file's `queues` settings (credentials: the SDK's default chain). */
export function sqsClientFor(settings: NonNullable<NetworkFile['queues']>): SQSClient {
  return new SQSClient({ region: settings.region, ...(settings.endpoint ? { endpoint: settings.endpoint } : {}) });
}
