import { encodeSync, type ReadyMessage } from '../lib/protocol/sync-message';
import { messageId } from '../lib/queue/message-id';
import { runKeys } from '../lib/redis/keys';
import type { ActivityDeps } from './deps';
import { signedSync } from './signing';

export interface PublishReadyInput {
  message: Omit<ReadyMessage, 'type' | 'peer'>;
  /** Active peers (this one included) whose sync streams get the message. */
  to: string[];
}

/**
 * Paper III.2.5: appends ready(epoch, step) with this peer's suspicions to every active peer's sync stream.
 * Unreachable peers are reported, never fatal.
 */
export function makePublishReady(deps: ActivityDeps) {
  return async function publishReady(input: PublishReadyInput): Promise<{ delivered: string[]; failed: string[] }> {
    const { message } = input;
    const stream = runKeys(message.run).syncStream;
    const fields = signedSync(deps, encodeSync({ type: 'ready', peer: deps.peerId, ...message }));
    const outcomes = await Promise.allSettled(
      input.to.map(async (peer) => {
        await deps.transport.deliver(peer, { stream, fields, id: messageId() });
      }),
    );
    const delivered: string[] = [];
    const failed: string[] = [];
    outcomes.forEach((o, i) => (o.status === 'fulfilled' ? delivered : failed).push(input.to[i]));
    if (failed.length > 0)
      deps.log.warn({ run: message.run, failed, epoch: message.epoch, step: message.step }, 'ready not delivered');
    return { delivered, failed };
  };
}
