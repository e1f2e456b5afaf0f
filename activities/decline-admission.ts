import { encodeSync } from '../lib/protocol/sync-message';
import { runKeys } from '../lib/redis/keys';
import { deliverEach } from './deliver';
import type { ActivityDeps } from './deps';
import { signedSync } from './signing';

export interface DeclineAdmissionInput {
  run: string;
  /** Where the run ended. */
  epoch: number;
  step: number;
  /** Peers this peer was asked to admit that no epoch boundary admitted. */
  peers: string[];
  reason: string;
}

/**
 * At the end of a run, tells each peer still waiting to be admitted (its join handshake passed, but no epoch
 * boundary came after it) that it will not be: a signed `declined` message in its sync stream, which its
 * awaitAdmission returns. Best effort: an unreachable peer is reported, never fatal.
 */
export function makeDeclineAdmission(deps: ActivityDeps) {
  return async function declineAdmission(
    input: DeclineAdmissionInput,
  ): Promise<{ delivered: string[]; failed: string[] }> {
    const stream = runKeys(input.run).syncStream;
    const fieldsFor = (target: string) =>
      signedSync(
        deps,
        encodeSync({
          type: 'declined',
          run: input.run,
          peer: deps.peerId,
          target,
          epoch: input.epoch,
          step: input.step,
          reason: input.reason,
        }),
      );
    return deliverEach(deps, stream, input.peers, fieldsFor, { what: 'admission decline', run: input.run });
  };
}
