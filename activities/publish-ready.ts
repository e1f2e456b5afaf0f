import { runKeys } from '../lib/redis/keys';
import type { ActivityDeps } from './deps';
import { encodeReady } from './sync-messages';

export interface PublishReadyInput {
  run: string;
  epoch: number;
  step: number;
  /** Active peers (this one included) whose sync streams get the message. */
  to: string[];
}

/** Appends ready(epoch, step) to every active peer's sync stream. Unreachable peers are reported, not fatal. */
export function makePublishReady(deps: ActivityDeps) {
  return async function publishReady(input: PublishReadyInput): Promise<{ delivered: string[]; failed: string[] }> {
    const stream = runKeys(input.run).syncStream;
    const fields = encodeReady({
      type: 'ready',
      run: input.run,
      peer: deps.peerId,
      epoch: input.epoch,
      step: input.step,
    });
    const outcomes = await Promise.allSettled(
      input.to.map(async (peer) => {
        const redis = await deps.directory.connection(peer);
        await redis.xadd(stream, 'MAXLEN', '~', '10000', '*', ...fields);
      }),
    );
    const delivered: string[] = [];
    const failed: string[] = [];
    outcomes.forEach((o, i) => (o.status === 'fulfilled' ? delivered : failed).push(input.to[i]));
    if (failed.length > 0)
      deps.log.warn({ run: input.run, failed, epoch: input.epoch, step: input.step }, 'ready not delivered');
    return { delivered, failed };
  };
}
