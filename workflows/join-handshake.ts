// The handshake workflows (paper III.3.1): network initialisation (Figure 2) and a new peer joining a
// running network (Figure 3). Every message is signed and verified by the activities; payloads here carry
// peer ids and task queues only, never a password or a key.
import {
  getExternalWorkflowHandle,
  proxyActivities,
  sleep,
  workflowInfo,
  type RetryPolicy,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { Revocation } from '../lib/crypto/revocation';
import { nonRetryableErrorTypes } from '../lib/protocol/errors';
import { peerWorkflowId } from '../lib/protocol/names';
import { addPeerSignal } from './messages';

const retry: RetryPolicy = { initialInterval: '200 milliseconds', maximumAttempts: 5, nonRetryableErrorTypes };

function handshakeActivities(taskQueue?: string) {
  return proxyActivities<Activities>({
    ...(taskQueue ? { taskQueue } : {}),
    startToCloseTimeout: '2 minutes',
    heartbeatTimeout: '5 seconds',
    retry,
  });
}

export interface NetworkInitInput {
  network: string;
  peer: string;
  /** The other peers of the network at its start. */
  peers: string[];
  /** @default 30000 */
  timeoutMs?: number;
  /**
   * Offer again, every second until the timeout, to peers the hello could not reach: peers on separate
   * hosts start at different times (spirt peer start). @default false
   */
  retryOffers?: boolean;
}

export interface HandshakeResult {
  trusted: string[];
  rejected: { from: string; reason: string }[];
  missing: string[];
  offerFailures: { peer: string; reason: string }[];
}

/**
 * Figure 2, on each peer at network start: sends every other peer a signed hello with its enrolment token
 * and a database user sealed to that peer, then waits until every other peer's hello has been verified.
 */
export async function networkInitWorkflow(input: NetworkInitInput): Promise<HandshakeResult> {
  const own = handshakeActivities();
  const since = workflowInfo().startTime.getTime();
  const deadline = since + (input.timeoutMs ?? 30_000);
  let acceptDone = false;
  const accepting = own
    .acceptOffers({
      since,
      from: input.peers,
      inbox: 'join-requests',
      types: ['hello'],
      timeoutMs: input.timeoutMs,
    })
    .finally(() => (acceptDone = true));
  let failures: HandshakeResult['offerFailures'] = [];
  let pending = input.peers;
  for (;;) {
    failures = (await own.offerCredentials({ type: 'hello', to: pending })).failed;
    pending = failures.map((f) => f.peer);
    if (pending.length === 0 || !input.retryOffers || acceptDone || Date.now() >= deadline) break;
    await Promise.race([sleep(1000), accepting]);
  }
  const accepted = await accepting;
  return { ...accepted, offerFailures: failures };
}

export interface JoinHandshakeInput {
  network: string;
  /** The new peer (this workflow runs on its task queue). */
  peer: string;
  /** Active peers to join, with their task queues (from the network file). */
  existing: { peer: string; taskQueue: string }[];
  /** A training run to join: its peers' workflows get addPeer once the handshake has succeeded. */
  run?: string;
  /** The new peer's enrolment token (public), when its network file does not list it. */
  enrolment?: string;
  /** @default 30000 */
  timeoutMs?: number;
}

/**
 * Figure 3, on the new peer: (1) a signed join request with a sealed database user to every existing peer;
 * (2) on each existing peer (its own task queue): verify the request, record the newcomer, answer with a
 * signed welcome carrying a user sealed to the newcomer; (3) the newcomer verifies every welcome;
 * (4) the existing peers' training workflows learn of it through addPeer and admit it at the next epoch.
 */
export async function joinHandshakeWorkflow(input: JoinHandshakeInput): Promise<HandshakeResult> {
  const own = handshakeActivities();
  const peers = input.existing.map((e) => e.peer);
  const since = workflowInfo().startTime.getTime();
  // All at once: the newcomer sends its join requests and listens for welcomes while the existing peers
  // wait for, verify and answer its request (one activity each, on their own task queues).
  const offering = own.offerCredentials({
    type: 'join-request',
    to: peers,
    ...(input.enrolment ? { enrolment: input.enrolment } : {}),
  });
  const welcomes = own.acceptOffers({
    since,
    from: peers,
    inbox: 'credentials',
    types: ['welcome'],
    timeoutMs: input.timeoutMs,
  });
  const answering = Promise.all(
    input.existing.map(async (e) => {
      const answer = await handshakeActivities(e.taskQueue).answerJoin({
        peer: input.peer,
        since,
        timeoutMs: input.timeoutMs,
      });
      return { peer: e.peer, ...answer };
    }),
  );
  const [offered, answers, accepted] = await Promise.all([offering, answering, welcomes]);
  const answered = answers.filter((a) => a.answered).map((a) => a.peer);
  const missing = [...new Set([...accepted.missing, ...peers.filter((p) => !answered.includes(p))])];
  if (input.run && missing.length === 0) {
    const run = input.run;
    await Promise.all(
      accepted.trusted.map((peer) =>
        getExternalWorkflowHandle(peerWorkflowId(run, peer)).signal(addPeerSignal, { peer: input.peer }),
      ),
    );
  }
  return {
    trusted: accepted.trusted,
    rejected: [
      ...answers.flatMap((a) => a.rejected.map((r) => ({ from: r.from, reason: `at ${a.peer}: ${r.reason}` }))),
      ...accepted.rejected,
    ],
    missing,
    offerFailures: offered.failed,
  };
}

/** Applies an administrator's signed revocation on one peer (started on that peer's task queue). */
export async function revokePeerWorkflow(input: { revocation: Revocation }): Promise<{ userDeleted: boolean }> {
  return handshakeActivities().applyRevocation(input);
}
