import { encodeSync } from '../lib/protocol/sync-message';
import { runKeys } from '../lib/redis/keys';
import { deliverEach } from './deliver';
import type { ActivityDeps } from './deps';
import { signedSync } from './signing';

export interface AnnounceDepartureInput {
  run: string;
  /** The first step this peer does not take part in. */
  epoch: number;
  step: number;
  reason: string;
  /** The other active peers. */
  to: string[];
}

/**
 * A peer an operator removed tells the other active peers that it is leaving (a signed `departed` message in
 * their sync streams), so that a peer whose removePeer signal is still queued behind a workflow task does not
 * wait for it at the barrier until syncTimeoutMs. Best effort: an unreachable peer is reported, never fatal.
 */
export function makeAnnounceDeparture(deps: ActivityDeps) {
  return async function announceDeparture(
    input: AnnounceDepartureInput,
  ): Promise<{ delivered: string[]; failed: string[] }> {
    const stream = runKeys(input.run).syncStream;
    const fields = signedSync(
      deps,
      encodeSync({
        type: 'departed',
        run: input.run,
        peer: deps.peerId,
        epoch: input.epoch,
        step: input.step,
        reason: input.reason,
      }),
    );
    const to = input.to.filter((p) => p !== deps.peerId);
    return deliverEach(deps, stream, to, () => fields, { what: 'departure', run: input.run });
  };
}
