// Unanimous agreement on inactive peers (paper III.3.10), with a quorum so that a network partition cannot
// split one run into two. Pure: every peer evaluates it over the same step's sync messages.

export interface AgreementInput {
  /** The active set before this step, in rank order. */
  active: readonly string[];
  /** Suspicion lists carried by the ready messages of this step, by sender (the peers heard from). */
  votes: Readonly<Record<string, readonly string[]>>;
}

export type AgreementOutcome =
  | { decided: true; removed: string[]; survivors: string[] }
  /** Not every surviving peer was heard from, or the survivors are not a quorum: change nothing this step. */
  | { decided: false; removed: []; why: string };

/**
 * A peer x leaves the active set when every other peer heard from at this step lists x as suspected.
 * The decision stands only when (1) every peer that stays was heard from (so its vote is known) and
 * (2) the peers that stay are a quorum of the active set: a strict majority, or exactly half including the
 * active peer with the lowest rank. Any peer with the same messages reaches the same decision.
 */
export function agreeOnRemovals(input: AgreementInput): AgreementOutcome {
  const { active, votes } = input;
  const heard = active.filter((p) => p in votes);
  const removed = active.filter((x) => {
    const others = heard.filter((y) => y !== x);
    // A peer nobody heard from and nobody vouches for: at least one vote is needed to remove anyone.
    return others.length > 0 && others.every((y) => votes[y].includes(x));
  });
  const survivors = active.filter((p) => !removed.includes(p));
  const unheard = survivors.filter((p) => !(p in votes));
  if (unheard.length > 0) return { decided: false, removed: [], why: `no vote from ${unheard.join(',')}` };
  if (!isQuorum(survivors, active))
    return { decided: false, removed: [], why: `${survivors.length} of ${active.length} peers are no quorum` };
  return { decided: true, removed, survivors };
}

/** A strict majority of `active`, or exactly half of it including its lowest-rank peer (`active[0]`). */
export function isQuorum(group: readonly string[], active: readonly string[]): boolean {
  const inActive = group.filter((p) => active.includes(p)).length;
  if (2 * inActive > active.length) return true;
  return 2 * inActive === active.length && active.length > 0 && group.includes(active[0]);
}

/** What an addPeer signal does to a peer's queue of peers to admit at the next epoch boundary. */
export type AddSignalOutcome =
  /** Queued: the peer is not active. */
  | 'queue'
  /**
   * Queued although the peer is still active here: it is on its way out (an operator removed it, or it
   * announced its departure) and this peer votes it out at its next step. Its rejoin's addPeer can arrive
   * before that step (the first workflow task of an epoch holds both), and was lost.
   */
  | 'queue-leaving'
  /** Already queued. */
  | 'queued'
  /** The peer is active and not leaving: deferred until it leaves (promoteDeferredAdds). */
  | 'active';

export function addSignalOutcome(
  peer: string,
  state: { active: readonly string[]; leaving: readonly string[]; pending: readonly string[] },
): AddSignalOutcome {
  if (state.pending.includes(peer)) return 'queued';
  if (!state.active.includes(peer)) return 'queue';
  return state.leaving.includes(peer) ? 'queue-leaving' : 'active';
}

/**
 * Moves the deferred adds of peers now leaving or removed (`gone`) to the queue for the next epoch boundary.
 * Returns the lists unchanged (the same arrays) when none of them is deferred.
 */
export function promoteDeferredAdds(
  adds: { pending: string[]; deferred: string[] },
  gone: readonly string[],
): { pending: string[]; deferred: string[] } {
  const now = adds.deferred.filter((p) => gone.includes(p));
  if (now.length === 0) return adds;
  return {
    pending: [...adds.pending, ...now.filter((p) => !adds.pending.includes(p))],
    deferred: adds.deferred.filter((p) => !now.includes(p)),
  };
}
