// `spirt peer add`: a peer joins a running run through the signed handshake (paper Figure 3), then waits to
// be admitted at the next epoch boundary. Only peer ids, task queues and the public enrolment token travel
// through Temporal.
import type { Client } from '@temporalio/client';
import type { HandshakeResult, JoinHandshakeInput, joinHandshakeWorkflow } from '../../workflows/join-handshake';
import { ConfigError } from '../errors/config-error';
import { findPeerWorkflows, startJoiningPeer, type FindOptions } from './control';

export interface JoinOptions extends FindOptions {
  network: string;
  /** The joining peer's task queue. */
  taskQueue: string;
  /** Task queue of every peer that may be active. */
  taskQueues: Record<string, string>;
  /** The joining peer's enrolment token, when its worker's network file does not list it. */
  enrolment?: string;
  /** @default 30000 */
  timeoutMs?: number;
}

export interface JoinOutcome {
  workflowId: string;
  handshake: HandshakeResult;
  /** From the start of the handshake until every active peer trusts the newcomer (and it trusts them). */
  handshakeMs: number;
}

/**
 * Starts the peer's training workflow (it waits to be admitted), runs its join handshake with every active
 * peer, and (inside the handshake workflow, once every peer verified it) signals addPeer to their training
 * workflows.
 * @throws ConfigError when a peer refused it or did not answer (with each reason)
 */
export async function joinRun(client: Client, run: string, peer: string, opts: JoinOptions): Promise<JoinOutcome> {
  const workflows = await findPeerWorkflows(client, run, opts);
  // The peers whose training workflows run (a removed peer's has ended).
  const existing = workflows
    .filter((wf) => wf.status === 'RUNNING' && wf.peerId !== peer)
    .map((wf) => {
      const taskQueue = opts.taskQueues[wf.peerId];
      if (!taskQueue) throw new ConfigError(`peer ${wf.peerId}: no task queue known`);
      return { peer: wf.peerId, taskQueue };
    });
  if (existing.length === 0) throw new ConfigError(`run ${run} has no running peer to join`);
  const input: JoinHandshakeInput = {
    network: opts.network,
    peer,
    existing,
    run,
    timeoutMs: opts.timeoutMs ?? 30_000,
    ...(opts.enrolment ? { enrolment: opts.enrolment } : {}),
  };
  const started = Date.now();
  // The peer's own workflow starts alongside the handshake: it prepares while the handshake runs and counts
  // admission notices from its start, and the active peers admit it only after the handshake's addPeer.
  const [workflowId, handshake] = await Promise.all([
    startJoiningPeer(client, run, peer, opts.taskQueue, opts, workflows),
    client.workflow.execute<typeof joinHandshakeWorkflow>('joinHandshakeWorkflow', {
      args: [input],
      taskQueue: opts.taskQueue,
      workflowId: `spirt-${run}-${peer}-join-${started}`,
    }),
  ]);
  const handshakeMs = Date.now() - started;
  if (handshake.missing.length > 0 || handshake.trusted.length < existing.length) {
    const why = [
      ...handshake.rejected.map((r) => `${r.from}: ${r.reason}`),
      ...handshake.offerFailures.map((f) => `to ${f.peer}: ${f.reason}`),
      ...handshake.missing.map((m) => `${m}: no answer`),
    ];
    await client.workflow
      .getHandle(workflowId)
      .terminate('join handshake failed')
      .catch(() => undefined);
    throw new ConfigError(`peer ${peer} could not join run ${run}: ${why.join('; ') || 'not trusted'}`);
  }
  return { workflowId, handshake, handshakeMs };
}
