import { encodeSync, type ReadyMessage } from '../lib/protocol/sync-message';
import { runKeys } from '../lib/redis/keys';
import { deliverEach } from './deliver';
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
    return deliverEach(deps, stream, input.to, () => fields, {
      what: 'ready',
      run: message.run,
      epoch: message.epoch,
      step: message.step,
    });
  };
}
