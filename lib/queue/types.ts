// Messages between peers: a sender appends field-value pairs to a stream in the recipient's Redis, either
// directly (Redis Streams) or through the recipient's queue (SQS), from which the recipient's worker pumps
// them into the same stream. Readers only ever read their own Redis streams, whatever the transport.
import { inboxKeys } from '../redis/keys';

/** A peer's inbound queues: one per kind of stream other peers write to. */
export type QueueKind = 'sync' | 'join-requests' | 'credentials';
export const QUEUE_KINDS: readonly QueueKind[] = ['sync', 'join-requests', 'credentials'];

export interface PeerMessage {
  /** The stream in the recipient's Redis: a run's sync stream or a handshake inbox. */
  stream: string;
  /** XADD field-value pairs (an even number of strings). */
  fields: string[];
  /**
   * Unique per message (a random id from `messageId()`): a copy delivered twice (SQS is at-least-once) is
   * appended once.
   */
  id: string;
}

/**
 * How to reach a peer this worker may have no database user at yet (handshake messages): its public Redis
 * endpoint with the public inbox user, and its queues when it has any.
 */
export interface InboxRoute {
  redis: { host: string; port: number; tls?: { ca: string } };
  inbox: { username: string; password: string };
  queues?: Record<QueueKind, string>;
}

export interface MessageTransport {
  /**
   * Appends `message` to its stream at `peer`. Handshake messages give the `route` (the sender may not be
   * trusted by the recipient yet).
   * @throws when the peer or its queue cannot be reached
   */
  deliver(peer: string, message: PeerMessage, route?: InboxRoute): Promise<void>;
  close(): Promise<void>;
}

const SYNC_STREAM = /^spirt:[A-Za-z0-9._-]{1,64}:stream:sync$/;

/** The queue a stream belongs to, or null for a stream other peers may not write to. */
export function queueKindOf(stream: string): QueueKind | null {
  if (SYNC_STREAM.test(stream)) return 'sync';
  if (stream === inboxKeys.joinRequests) return 'join-requests';
  if (stream === inboxKeys.credentials) return 'credentials';
  return null;
}

/** Stream length cap per kind (XADD MAXLEN ~). */
export function streamCap(kind: QueueKind): number {
  return kind === 'sync' ? 10_000 : 1_000;
}
