import { agreeOnRemovals, type AgreementOutcome } from '../lib/membership/agreement';
import { encodeSync } from '../lib/protocol/sync-message';
import type { MembershipEvent } from '../lib/protocol/types';
import { runKeys } from '../lib/redis/keys';
import { deliverEach } from './deliver';
import type { ActivityDeps } from './deps';
import { signedSync } from './signing';

export interface AgreeOnInactivePeersInput {
  run: string;
  epoch: number;
  step: number;
  /** Active set before this step, in rank order. */
  active: string[];
  /** Suspicion lists of the ready messages of this step, by sender. */
  votes: Record<string, string[]>;
  /** Why each suspected peer is suspected, for the record. */
  reasons: Record<string, string>;
}

export type AgreeOnInactivePeersResult = AgreementOutcome & { events: MembershipEvent[] };

/**
 * Paper III.3.10: applies the unanimous-agreement rule to this step's votes. When peers are removed it
 * records the change in this peer's membership stream, and tells each removed peer (best effort) so that
 * a peer that is alive but cut off stops instead of waiting.
 */
export function makeAgreeOnInactivePeers(deps: ActivityDeps) {
  return async function agreeOnInactivePeers(input: AgreeOnInactivePeersInput): Promise<AgreeOnInactivePeersResult> {
    const outcome = agreeOnRemovals({ active: input.active, votes: input.votes });
    if (!outcome.decided || outcome.removed.length === 0) return { ...outcome, events: [] };
    const keys = runKeys(input.run);
    const events: MembershipEvent[] = outcome.removed.map((peer) => {
      const by = outcome.survivors.filter((p) => p !== peer);
      return {
        epoch: input.epoch,
        step: input.step,
        peer,
        change: 'removed',
        reason: `suspected by ${by.join(',')}${input.reasons[peer] ? ` (${input.reasons[peer]})` : ''}`,
      };
    });
    for (const e of events) deps.log.warn({ run: input.run, ...e }, 'peer removed from the active set');
    const own = await deps.directory.connection(deps.peerId);
    await Promise.all(
      events.map((e) =>
        own.xadd(
          keys.membershipStream,
          'MAXLEN',
          '~',
          '1000',
          '*',
          'event',
          'removed',
          'peer',
          e.peer,
          'reason',
          e.reason,
        ),
      ),
    );
    // Not awaited: a removed peer is usually unreachable, and nobody should wait for its Redis.
    const notice = (peer: string) => {
      const e = events.find((x) => x.peer === peer)!;
      return signedSync(
        deps,
        encodeSync({
          type: 'removed',
          run: input.run,
          peer: deps.peerId,
          target: e.peer,
          epoch: e.epoch,
          step: e.step,
          reason: e.reason,
        }),
      );
    };
    void deliverEach(deps, keys.syncStream, outcome.removed, notice, { what: 'removal notice', run: input.run });
    for (const e of events) deps.monitor.unwatch(input.run, e.peer);
    return { ...outcome, events };
  };
}
