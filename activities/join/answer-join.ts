import type { ActivityDeps } from '../deps';
import { makeAcceptOffers } from './accept-offers';
import { makeOfferCredentials } from './offer-credentials';

export interface AnswerJoinInput {
  /** The joining peer. */
  peer: string;
  /** Only a join request verified at or after this time (ms) counts. */
  since: number;
  /** @default 30000 */
  timeoutMs?: number;
}

export interface AnswerJoinResult {
  /** The join request verified and a welcome (with a user sealed to the newcomer) was sent. */
  answered: boolean;
  rejected: { from: string; reason: string }[];
  failure: string | null;
}

/**
 * Figure 3, on an existing peer (one activity, so a join costs one dispatch per peer): waits for the
 * newcomer's join request, verifies it and records the newcomer, then answers with a signed welcome.
 */
export function makeAnswerJoin(deps: ActivityDeps) {
  const accept = makeAcceptOffers(deps);
  const offer = makeOfferCredentials(deps);
  return async function answerJoin(input: AnswerJoinInput): Promise<AnswerJoinResult> {
    const got = await accept({
      since: input.since,
      from: [input.peer],
      inbox: 'join-requests',
      types: ['join-request'],
      timeoutMs: input.timeoutMs,
    });
    if (got.trusted.length === 0) return { answered: false, rejected: got.rejected, failure: null };
    const welcome = await offer({ type: 'welcome', to: [input.peer] });
    return { answered: welcome.sent.length === 1, rejected: got.rejected, failure: welcome.failed[0]?.reason ?? null };
  };
}
