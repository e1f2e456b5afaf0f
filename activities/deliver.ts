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
    // Async: a message that cannot be built fails for its peer only.
    to.map(async (peer) => deps.transport.deliver(peer, { stream, fields: fieldsFor(peer), id: messageId() })),
  );
  const delivered: string[] = [];
  const failed: string[] = [];
  const reasons: Record<string, string> = {};
  outcomes.forEach((o, i) => {
    if (o.status === 'fulfilled') delivered.push(to[i]);
    else {
      failed.push(to[i]);
      reasons[to[i]] = String(o.reason);
    }
  });
  const { what, ...context } = log;
  if (failed.length > 0) deps.log.warn({ ...context, failed, reasons }, `${what} not delivered`);
  return { delivered, failed };
}
