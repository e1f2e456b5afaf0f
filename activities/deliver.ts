import { messageId } from '../lib/queue/message-id';
import type { ActivityDeps } from './deps';

/**
 * Appends a message to one stream of each of `to` (through the peer transport), each peer's own fields from
 * `fieldsFor`. Unreachable peers are reported (and logged with `what`), never fatal.
 */
export async function deliverEach(
  deps: ActivityDeps,
  stream: string,
  to: string[],
  fieldsFor: (peer: string) => string[],
  log: { what: string } & Record<string, unknown>,
): Promise<{ delivered: string[]; failed: string[] }> {
  const outcomes = await Promise.allSettled(
    to.map((peer) => deps.transport.deliver(peer, { stream, fields: fieldsFor(peer), id: messageId() })),
  );
  const delivered: string[] = [];
  const failed: string[] = [];
  outcomes.forEach((o, i) => (o.status === 'fulfilled' ? delivered : failed).push(to[i]));
  const { what, ...context } = log;
  if (failed.length > 0) deps.log.warn({ ...context, failed }, `${what} not delivered`);
  return { delivered, failed };
}
