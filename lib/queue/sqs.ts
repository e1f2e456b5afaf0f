// The SQS transport: each peer has one standard queue per kind (sync, join-requests, credentials). A sender
// sends the message as JSON to the recipient's queue; the recipient's pump receives it, appends it to the
// named stream in its own Redis exactly once and deletes it from the queue.
//
// Where SQS differs from Redis Streams, and what the protocol does about it:
// - at-least-once delivery: a message can arrive twice. Each message has a random id; the pump appends a
//   message only if its id was not seen (a dedup key with a TTL, set atomically with the append).
// - no ordering: messages of a standard queue arrive in any order. Readers of the sync stream already
//   accept that (ready messages are matched by (epoch, step), a later step's message stays for the next
//   barrier; handshake messages carry their own nonce and timestamp).
// - visibility timeout: a received message is hidden, not gone; if the pump dies before deleting it, it
//   comes back after the timeout and the dedup drops it if it was appended.
// - size: a message body is at most 256 KiB; protocol messages are a few KiB.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type Redis from 'ioredis';
import { QueueError } from '../errors/queue-error';
import { packageRoot } from '../stack/paths';
import { isMessageId } from './message-id';
import { QUEUE_KINDS, queueKindOf, streamCap, type MessageTransport, type PeerMessage, type QueueKind } from './types';

export type SqsSend = Pick<SQSClient, 'send' | 'destroy'>;

/** The URL of `peer`'s queue of one kind (from the network file). @throws QueueError for an unknown peer */
export type QueueUrlOf = (peer: string, kind: QueueKind) => string | Promise<string>;

const MAX_BODY = 256 * 1024;

export class SqsTransport implements MessageTransport {
  constructor(private readonly opts: { client: SqsSend; queueUrl?: QueueUrlOf }) {}

  async deliver(peer: string, message: PeerMessage): Promise<void> {
    const kind = queueKindOf(message.stream);
    if (!kind) throw new QueueError(`stream ${message.stream} is not one other peers may write to`);
    if (!this.opts.queueUrl) throw new QueueError(`no queue URL of peer ${peer} is known to this transport`);
    await this.sendTo(await this.opts.queueUrl(peer, kind), message, peer);
  }

  /** Sends `message` to the queue at `url` (of recipient `peer`, named in errors). */
  async sendTo(url: string, message: PeerMessage, peer: string): Promise<void> {
    if (!queueKindOf(message.stream))
      throw new QueueError(`stream ${message.stream} is not one other peers may write to`);
    if (!isMessageId(message.id)) throw new QueueError(`message id ${String(message.id)} is not a message id`);
    const body = JSON.stringify({ v: 1, stream: message.stream, fields: message.fields, id: message.id });
    if (Buffer.byteLength(body) > MAX_BODY) throw new QueueError(`message to ${peer} is over 256 KiB`);
    await this.opts.client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: body }));
  }

  async close(): Promise<void> {
    this.opts.client.destroy();
  }
}

export interface SqsPumpOptions {
  client: SqsSend;
  /** This peer's own queues. */
  queues: Partial<Record<QueueKind, string>>;
  /** This peer's own Redis (the owner connection). */
  redis: Redis;
  /** Long-poll wait per receive, seconds (0-20). @default 1 */
  waitSeconds?: number;
  /** Seconds a received message stays hidden before it is delivered again if not deleted. @default 30 */
  visibilityTimeout?: number;
  /** How long a message id is remembered. @default 86400 */
  dedupTtlSeconds?: number;
  log?: { warn(obj: object, msg: string): void };
}

export interface PumpResult {
  received: number;
  appended: number;
  duplicates: number;
  malformed: number;
}

const dedupKey = (id: string) => `spirt:queue:seen:${id}`;
let appendOnceLua: string | null = null;

/**
 * Moves this peer's queued messages into its own Redis streams, each exactly once. A malformed message
 * (not JSON, a stream of another kind than its queue, odd fields, a bad id) is logged and deleted, never
 * appended: a queue's senders are the network's peers, but nothing they send can write an arbitrary key.
 */
export class SqsPump {
  private running = false;
  private loops: Promise<void>[] = [];

  constructor(private readonly opts: SqsPumpOptions) {}

  /** One receive on the queue of `kind`: what arrived, appended and deleted. */
  async pumpOnce(kind: QueueKind, waitSeconds = this.opts.waitSeconds ?? 1): Promise<PumpResult> {
    const url = this.opts.queues[kind];
    const result: PumpResult = { received: 0, appended: 0, duplicates: 0, malformed: 0 };
    if (!url) return result;
    const out = await this.opts.client.send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: waitSeconds,
        VisibilityTimeout: this.opts.visibilityTimeout ?? 30,
      }),
    );
    const messages = out.Messages ?? [];
    result.received = messages.length;
    const done: { Id: string; ReceiptHandle: string }[] = [];
    for (const [i, m] of messages.entries()) {
      const parsed = parseBody(m.Body, kind);
      if (typeof parsed === 'string') {
        result.malformed++;
        this.opts.log?.warn({ queue: kind, messageId: m.MessageId, reason: parsed }, 'malformed queue message dropped');
      } else if (await this.appendOnce(parsed, kind)) result.appended++;
      else result.duplicates++;
      if (m.ReceiptHandle) done.push({ Id: String(i), ReceiptHandle: m.ReceiptHandle });
    }
    if (done.length > 0) await this.opts.client.send(new DeleteMessageBatchCommand({ QueueUrl: url, Entries: done }));
    return result;
  }

  /** Pumps every queue until `stop()`; a failed receive is logged and retried after a pause. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.loops = QUEUE_KINDS.filter((k) => this.opts.queues[k]).map(async (kind) => {
      while (this.running) {
        try {
          await this.pumpOnce(kind);
        } catch (err) {
          this.opts.log?.warn(
            { queue: kind, err: err instanceof Error ? err.message : String(err) },
            'queue receive failed',
          );
          await new Promise((resolve) => setTimeout(resolve, 1000));
        }
      }
    });
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    this.loops = [];
  }

  private async appendOnce(message: PeerMessage, kind: QueueKind): Promise<boolean> {
    appendOnceLua ??= readFileSync(join(packageRoot(), 'lua', 'append-once.lua'), 'utf8');
    const redis = this.opts.redis as Redis & {
      spirtAppendOnce?: (numKeys: number, ...args: string[]) => Promise<string | null>;
    };
    if (!redis.spirtAppendOnce) redis.defineCommand('spirtAppendOnce', { lua: appendOnceLua });
    const id = await redis.spirtAppendOnce!(
      2,
      dedupKey(message.id),
      message.stream,
      String(this.opts.dedupTtlSeconds ?? 86_400),
      String(streamCap(kind)),
      ...message.fields,
    );
    return id !== null;
  }
}

/** The message in a queue body, or why it is refused. */
export function parseBody(body: string | undefined, kind: QueueKind): PeerMessage | string {
  if (!body) return 'empty body';
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch {
    return 'not JSON';
  }
  const m = v as Partial<PeerMessage> & { v?: unknown };
  if (typeof v !== 'object' || v === null || m.v !== 1) return 'not a version 1 message';
  if (typeof m.stream !== 'string' || queueKindOf(m.stream) !== kind) return `stream is not a ${kind} stream`;
  if (!Array.isArray(m.fields) || m.fields.length === 0 || m.fields.length % 2 !== 0) return 'fields are not pairs';
  if (!m.fields.every((f) => typeof f === 'string')) return 'a field is not a string';
  if (!isMessageId(m.id)) return 'bad message id';
  return { stream: m.stream, fields: m.fields, id: m.id };
}
