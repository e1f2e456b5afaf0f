// Running peer workflows on a local stack and reading what the peers recorded about a failure. Shared by
// `spirt bench faults` and the fault tests (test/faults), so both measure the same way.
import {
  Client,
  Connection,
  WorkflowFailedError,
  type WorkflowHandle,
  type WorkflowHandleWithFirstExecutionRunId,
} from '@temporalio/client';
import type { RunConfig } from '../lib/config/schema';
import { peerWorkflowId } from '../lib/protocol/names';
import type { PeerStatus, PeerTrainingStart, TrainingResult } from '../lib/protocol/types';
import { localOwnerEndpoint } from '../lib/stack/owner-access';
import { connectRedis } from '../lib/redis/connect';
import { runKeys } from '../lib/redis/keys';
import type { StackFile } from '../lib/stack/stack-file';

export async function temporalClient(stack: StackFile): Promise<{ client: Client; connection: Connection }> {
  const connection = await Connection.connect({ address: stack.temporal.address });
  return { client: new Client({ connection, namespace: stack.temporal.namespace }), connection };
}

/** Starts one workflow per peer with the short start input (what `spirt train` does). */
export async function startRun(
  client: Client,
  stack: StackFile,
  config: RunConfig,
): Promise<WorkflowHandleWithFirstExecutionRunId[]> {
  const peers = stack.peers.slice(0, config.peers);
  return Promise.all(
    peers.map((peer) => {
      const input: PeerTrainingStart = { ...config, peer: peer.id, peers: peers.map((p) => p.id) };
      return client.workflow.start('peerTrainingWorkflow', {
        args: [input],
        taskQueue: peer.taskQueue,
        workflowId: peerWorkflowId(config.run, peer.id),
      });
    }),
  );
}

export type PeerOutcome = { peer: string; result: TrainingResult } | { peer: string; failure: string };

/** Every peer's result, or why its workflow failed (a failed peer does not fail the others). */
export async function results(handles: WorkflowHandle[]): Promise<PeerOutcome[]> {
  return Promise.all(
    handles.map(async (h) => {
      const peer = h.workflowId.split('-').pop() as string;
      try {
        return { peer, result: (await h.result()) as TrainingResult };
      } catch (err) {
        const why = err instanceof WorkflowFailedError ? (err.cause?.message ?? err.message) : String(err);
        return { peer, failure: why };
      }
    }),
  );
}

/** Polls a peer's status query until `until` holds (queries that fail while a worker restarts are retried). */
export async function waitForStatus(
  handle: WorkflowHandle,
  until: (s: PeerStatus) => boolean,
  timeoutMs = 120_000,
): Promise<PeerStatus> {
  const started = Date.now();
  for (;;) {
    const s = await handle.query<PeerStatus>('status').catch(() => null);
    if (s && until(s)) return s;
    if (Date.now() - started > timeoutMs) throw new Error(`${handle.workflowId}: status condition not met in time`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Waits until `peerId` has applied step `step` (or a later one) of epoch `epoch`, read off its own Redis every
 * 20 ms (the step metrics apply-update appends): a status query can take seconds on a loaded machine and miss
 * a window of a few short steps. @throws when the peer went past the epoch first, or on timeout
 */
export async function waitForStep(
  stack: StackFile,
  run: string,
  peerId: string,
  epoch: number,
  step: number,
  timeoutMs = 120_000,
): Promise<void> {
  const redis = await connectRedis(await localOwnerEndpoint(stack, peerId));
  const started = Date.now();
  try {
    for (;;) {
      const last = (await redis.xrevrange(runKeys(run).metricsStream, '+', '-', 'COUNT', 1)) as [string, string[]][];
      const fields = last[0]?.[1] ?? [];
      const at = (name: string) => Number(fields[fields.indexOf(name) + 1]);
      if (last.length > 0) {
        const [e, s] = [at('epoch'), at('step')];
        if (e > epoch) throw new Error(`${peerId} of ${run} went past epoch ${epoch} before step ${step} was seen`);
        if (e === epoch && s >= step) return;
      }
      if (Date.now() - started > timeoutMs)
        throw new Error(`${peerId} of ${run}: epoch ${epoch} step ${step} not reached in time`);
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    redis.disconnect();
  }
}

export interface MembershipRecord {
  peer: string;
  /** Milliseconds since the epoch (the stream entry's id). */
  at: number;
  event: string;
  about: string;
  reason: string;
}

/** Membership events (suspected, recovered, removed) a peer recorded for a run, from its own Redis. */
export async function membershipEvents(stack: StackFile, run: string, peerId: string): Promise<MembershipRecord[]> {
  const entries = await readPeerStream(stack, peerId, runKeys(run).membershipStream);
  return entries.map(({ at, fields: m }) => ({ peer: peerId, at, event: m.event, about: m.peer, reason: m.reason }));
}

export interface StepMetric {
  at: number;
  epoch: number;
  step: number;
  timings: Record<string, number>;
  /** Peer gradients this step left out of its aggregation, and why. */
  dropped: { peer: string; reason: string }[];
  /** Function calls of this step that took more than one attempt (fused step), by shard. */
  retries: { shard: number; attempts: number }[];
  /** Function calls of this step adopted from the previous epoch's last chain (activities/prestart.ts). */
  prestarted: number;
}

/** Step metrics a peer recorded for a run (one entry per applied step, with its phase durations). */
export async function stepMetrics(stack: StackFile, run: string, peerId: string): Promise<StepMetric[]> {
  const entries = await readPeerStream(stack, peerId, runKeys(run).metricsStream);
  return entries.map(({ at, fields: m }) => ({
    at,
    epoch: Number(m.epoch),
    step: Number(m.step),
    timings: m.timings ? (JSON.parse(m.timings) as Record<string, number>) : {},
    dropped: m.dropped ? (JSON.parse(m.dropped) as { peer: string; reason: string }[]) : [],
    retries: m.retries ? (JSON.parse(m.retries) as { shard: number; attempts: number }[]) : [],
    prestarted: Number(m.prestarted ?? 0),
  }));
}

/** One field of a peer's Redis `INFO persistence` (as a number), e.g. `aof_rewrites`; null when absent. */
export async function peerPersistenceInfo(stack: StackFile, peerId: string, field: string): Promise<number | null> {
  const redis = await connectRedis(await localOwnerEndpoint(stack, peerId));
  try {
    const info = await redis.info('persistence');
    const line = info.split('\r\n').find((l) => l.startsWith(`${field}:`));
    return line ? Number(line.slice(field.length + 1)) : null;
  } finally {
    redis.disconnect();
  }
}

/** Every entry of one stream in a peer's Redis: its time (ms, from the entry id) and its fields. */
async function readPeerStream(
  stack: StackFile,
  peerId: string,
  key: string,
): Promise<{ at: number; fields: Record<string, string> }[]> {
  const redis = await connectRedis(await localOwnerEndpoint(stack, peerId));
  try {
    const entries = (await redis.xrange(key, '-', '+')) as [string, string[]][];
    return entries.map(([id, f]) => {
      const fields: Record<string, string> = {};
      for (let i = 0; i + 1 < f.length; i += 2) fields[f[i]] = f[i + 1];
      return { at: Number(id.split('-')[0]), fields };
    });
  } finally {
    redis.disconnect();
  }
}

export interface FailureTimeline {
  /** Kill -> first suspicion by any survivor. */
  detectionMs: number;
  /** Kill -> the victim removed on every survivor. */
  agreementMs: number;
  /** Kill -> the first step completed (by every survivor) after the removal, i.e. with the new assignment. */
  recoveryMs: number;
}

/** Reads what the survivors recorded about `victim` after it was killed at `killedAt`. */
export async function failureTimeline(
  stack: StackFile,
  run: string,
  victim: string,
  survivors: string[],
  killedAt: number,
  removedAt: { epoch: number; step: number },
): Promise<FailureTimeline> {
  const events = (await Promise.all(survivors.map((p) => membershipEvents(stack, run, p)))).flat();
  const about = events.filter((e) => e.about === victim && e.at >= killedAt);
  const suspected = about.filter((e) => e.event === 'suspected').map((e) => e.at);
  const removed = survivors.map((p) => about.find((e) => e.peer === p && e.event === 'removed')?.at ?? NaN);
  const firstAfter = await Promise.all(
    survivors.map(async (p) => {
      const m = (await stepMetrics(stack, run, p)).find(
        (x) => x.epoch > removedAt.epoch || (x.epoch === removedAt.epoch && x.step > removedAt.step),
      );
      return m?.at ?? NaN;
    }),
  );
  return {
    detectionMs: Math.min(...suspected) - killedAt,
    agreementMs: Math.max(...removed) - killedAt,
    recoveryMs: Math.max(...firstAfter) - killedAt,
  };
}
