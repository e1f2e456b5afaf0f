// Operator control of a run through Temporal: find its peer workflows, ask their status, send them signals.
// Pure functions over a Client: the CLI connects, these talk.
import { withTimeout } from '../errors/timeout';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import { removePeerSignal, runPlanQuery, statusQuery, stopSignal } from '../../workflows/messages';
import { ConfigError } from '../errors/config-error';
import { peerWorkflowId } from '../protocol/names';
import { peerAttribute, runAttribute } from '../protocol/search-attributes';
import type { MembershipEvent, PeerStatus, PeerTrainingStart, TrainingResult } from '../protocol/types';
import { RunNotFoundError } from './run-not-found-error';
import { comparePeerIds, mergeMembership } from './summary';

const RUN_ID = /^[a-z0-9][a-z0-9-]{0,39}$/;

/** One peer workflow of a run, as its latest execution stands. */
export interface PeerWorkflow {
  peerId: string;
  workflowId: string;
  /** Temporal status of the latest execution: RUNNING, COMPLETED, FAILED, TERMINATED, ... */
  status: string;
  startTime: Date;
}

export type PeerReport =
  | (PeerWorkflow & { state: 'running'; peerStatus: PeerStatus | null; error: string | null })
  | (PeerWorkflow & { state: 'closed'; result: TrainingResult })
  | (PeerWorkflow & { state: 'failed'; error: string });

export interface RunStatus {
  run: string;
  peers: PeerReport[];
  /** Every membership change any peer reports, once each. */
  membership: MembershipEvent[];
}

export interface FindOptions {
  /** Peer ids to look up by workflow id too (the stack's peers), in case visibility lags behind. */
  knownPeers?: string[];
}

/** The run whose peer workflow execution started last (search attribute SpirtRun), or null when there is none. */
export async function latestRun(client: Client): Promise<string | null> {
  let best: { run: string; start: number } | null = null;
  for await (const wf of client.workflow.list({ query: `${runAttribute.name} IS NOT NULL` })) {
    const run = wf.typedSearchAttributes.get(runAttribute);
    if (run && (!best || wf.startTime.getTime() > best.start)) best = { run, start: wf.startTime.getTime() };
  }
  return best?.run ?? null;
}

/**
 * The peer workflows of a run (`spirt-<run>-<peer>`), found through visibility (`SpirtRun="<run>"`) and by
 * the ids of `knownPeers`; each described at its latest execution. Sorted by peer id.
 * @throws RunNotFoundError when the run has no peer workflow.
 */
export async function findPeerWorkflows(client: Client, run: string, opts: FindOptions = {}): Promise<PeerWorkflow[]> {
  // Also keeps the visibility query below well-formed.
  if (!RUN_ID.test(run)) throw new RunNotFoundError(`"${run}" is not a run id (1-40 of a-z, 0-9 and -)`);
  const peerOf = new Map<string, string>();
  for await (const wf of client.workflow.list({ query: `${runAttribute.name}="${run}"` })) {
    peerOf.set(
      wf.workflowId,
      wf.typedSearchAttributes.get(peerAttribute) ?? wf.workflowId.slice(`spirt-${run}-`.length),
    );
  }
  for (const peer of opts.knownPeers ?? []) peerOf.set(peerWorkflowId(run, peer), peer);
  const found = await Promise.all(
    [...peerOf].map(async ([workflowId, peerId]): Promise<PeerWorkflow | null> => {
      try {
        const d = await client.workflow.getHandle(workflowId).describe();
        return { peerId, workflowId, status: d.status.name, startTime: d.startTime };
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return null;
        throw err;
      }
    }),
  );
  const peers = found.filter((p): p is PeerWorkflow => p !== null).sort((a, b) => comparePeerIds(a.peerId, b.peerId));
  if (peers.length === 0)
    throw new RunNotFoundError(`run ${run} has no peer workflows in namespace ${client.options.namespace}`);
  return peers;
}

/**
 * Every peer's state: the status query for a running workflow (null with the reason when it does not
 * answer in `queryTimeoutMs`), the TrainingResult of a closed one, the failure of a failed one.
 */
export async function runStatus(
  client: Client,
  run: string,
  opts: FindOptions & { queryTimeoutMs?: number } = {},
): Promise<RunStatus> {
  const workflows = await findPeerWorkflows(client, run, opts);
  const peers = await Promise.all(
    workflows.map((wf) => peerReport(client.workflow.getHandle(wf.workflowId), wf, opts.queryTimeoutMs ?? 5000)),
  );
  const membership = mergeMembership(
    peers.map((p) =>
      p.state === 'running'
        ? (p.peerStatus?.membership ?? [])
        : p.state === 'closed'
          ? (p.result.membership ?? [])
          : [],
    ),
  );
  return { run, peers, membership };
}

async function peerReport(handle: WorkflowHandle, wf: PeerWorkflow, queryTimeoutMs: number): Promise<PeerReport> {
  if (wf.status === 'RUNNING' || wf.status === 'CONTINUED_AS_NEW') {
    try {
      const peerStatus = await withTimeout(
        handle.query(statusQuery),
        queryTimeoutMs,
        `no answer within ${queryTimeoutMs} ms (is its worker running?)`,
      );
      return { ...wf, state: 'running', peerStatus, error: null };
    } catch (err) {
      return { ...wf, state: 'running', peerStatus: null, error: (err as Error).message };
    }
  }
  if (wf.status === 'COMPLETED') {
    try {
      return { ...wf, state: 'closed', result: (await handle.result()) as TrainingResult };
    } catch (err) {
      return { ...wf, state: 'failed', error: failureMessage(err) };
    }
  }
  const failure = await handle.result().then(
    () => wf.status.toLowerCase(),
    (err: unknown) => failureMessage(err),
  );
  return { ...wf, state: 'failed', error: failure };
}

/** The root cause of a failed workflow, in one line. */
export function failureMessage(err: unknown): string {
  if (err instanceof WorkflowFailedError) return oneLine(err.cause?.message ?? err.message);
  return oneLine(err instanceof Error ? err.message : String(err));
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

/** Workflow ids a signal reached, and those that had closed in the meantime. */
export interface SignalReport {
  run: string;
  signalled: string[];
  closed: string[];
}

async function signalRunning(
  client: Client,
  run: string,
  send: (handle: WorkflowHandle) => Promise<void>,
  opts: FindOptions,
): Promise<SignalReport> {
  const workflows = await findPeerWorkflows(client, run, opts);
  const running = workflows.filter((wf) => wf.status === 'RUNNING');
  if (running.length === 0) throw new RunNotFoundError(`run ${run} has no running peer workflows`);
  const report: SignalReport = { run, signalled: [], closed: [] };
  for (const wf of running) {
    try {
      await send(client.workflow.getHandle(wf.workflowId));
      report.signalled.push(wf.workflowId);
    } catch (err) {
      // It finished between the listing and the signal.
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      report.closed.push(wf.workflowId);
    }
  }
  return report;
}

/** Signal `stop` ({ reason: 'operator' }) to every running peer workflow of the run. */
export function stopRun(client: Client, run: string, opts: FindOptions = {}): Promise<SignalReport> {
  return signalRunning(client, run, (h) => h.signal(stopSignal, { reason: 'operator' }), opts);
}

/**
 * Signal `removePeer` to every running peer workflow of the run, the removed peer's own included.
 * @throws RunNotFoundError when the run has no workflow of that peer.
 */
export async function removePeer(
  client: Client,
  run: string,
  peer: string,
  opts: FindOptions = {},
): Promise<SignalReport> {
  const workflows = await findPeerWorkflows(client, run, opts);
  if (!workflows.some((wf) => wf.peerId === peer)) {
    throw new RunNotFoundError(`run ${run} has no peer ${peer} (peers ${workflows.map((wf) => wf.peerId).join(', ')})`);
  }
  return signalRunning(client, run, (h) => h.signal(removePeerSignal, { peer, reason: 'removed by operator' }), opts);
}

/**
 * Starts a (re)joining peer's own workflow with `join: true` and the run's config (asked from a running peer),
 * on the peer's task queue: it prepares, then waits until the active peers admit it (after `addPeer`).
 * @throws ConfigError when the peer's previous workflow of this run is still running or the peer is unknown;
 * RunNotFoundError when no peer of the run is running.
 */
export async function startJoiningPeer(
  client: Client,
  run: string,
  peer: string,
  taskQueue: string,
  opts: FindOptions = {},
  found?: PeerWorkflow[],
): Promise<string> {
  const workflows = found ?? (await findPeerWorkflows(client, run, opts));
  const own = workflows.find((wf) => wf.peerId === peer);
  if (own?.status === 'RUNNING') {
    throw new ConfigError(`peer ${peer} still runs in run ${run}; it can rejoin once it has left (spirt peer remove)`);
  }
  const source = workflows.find((wf) => wf.status === 'RUNNING' && wf.peerId !== peer);
  if (!source) throw new RunNotFoundError(`run ${run} has no running peer to admit ${peer}`);
  const plan = await client.workflow.getHandle(source.workflowId).query(runPlanQuery);
  // A peer new to the run is listed after its peers; the data stays cut into the run's partitions.
  const partitions = plan.partitions ?? plan.peers.length;
  const peers = plan.peers.includes(peer) ? plan.peers : [...plan.peers, peer];
  const input: PeerTrainingStart = {
    ...plan.config,
    peer,
    peers,
    join: true,
    ...(partitions !== peers.length ? { partitions } : {}),
  };
  const workflowId = peerWorkflowId(run, peer);
  try {
    await client.workflow.start('peerTrainingWorkflow', {
      args: [input],
      taskQueue,
      workflowId,
      typedSearchAttributes: [
        { key: runAttribute, value: run },
        { key: peerAttribute, value: peer },
      ],
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
  return workflowId;
}
