// A step in two local activities instead of ten (run config `localActivities: 'all'`): every
// activity result wakes the workflow (a workflow activation, a few milliseconds of CPU in the worker each),
// so the paper's steps that follow one another without a decision of the workflow in between run inside one
// activity. Each part is the same activity function as in the step-by-step path, called in the same order;
// each fused activity is one marker in history with every part's input and result, and every part is
// idempotent, so a retried or replayed fused activity repeats nothing that matters.
import { Context } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';
import type { ComputeGradientEvent, ComputeGradientResult } from '../lib/protocol/functions';
import { suspectsOf } from '../lib/membership/suspects';
import { nonRetryableErrorTypes, RETRY } from '../lib/protocol/errors';
import { slowestCallTimings } from '../lib/protocol/function-timings';
import { trace } from '../lib/log/trace';
import { nextRelease, type MembershipEvent, type StepRelease } from '../lib/protocol/types';
import { makeAggregateGradients, type AggregateGradientsResult } from './aggregate-gradients';
import { makeApplyUpdate, type ApplyUpdateInput } from './apply-update';
import { makeAverageShardGradients, type AverageShardGradientsInput } from './average-shard-gradients';
import {
  makeAwaitPeersReady,
  prefetchInput,
  type AwaitPeersReadyInput,
  type AwaitPeersReadyResult,
} from './await-peers-ready';
import { callComputeGradient, makeComputeShardGradient } from './compute-shard-gradient';
import type { ActivityDeps } from './deps';
import { makeFetchPeerGradients, type FetchPeerGradientsResult } from './fetch-peer-gradients';
import { makeProbePeers, type ProbePeersInput, type ProbePeersResult } from './probe-peers';
import { makePublishReady, type PublishReadyInput } from './publish-ready';

export interface StepFrontInput {
  /** III.3.3: one function call per unit. */
  calls: ComputeGradientEvent[];
  /** III.3.4: the average of the calls' gradients (`shards` is the number of calls). */
  average: Omit<AverageShardGradientsInput, 'shards'>;
  /** III.3.5: the detector's view (skipped on a local step of local SGD). */
  probe: ProbePeersInput | null;
  /**
   * III.2.5-III.3.6 (absent on a local step of local SGD): announce ready with this peer's vote, the
   * suspectsOf the probe and `forced` (its `suspects` are filled in here), then wait at the barrier unless
   * `wait` is false (the workflow yields to the server first, then waits itself). With `barrier.prefetch`, the
   * other peers' gradients are copied from the start, while this peer computes.
   */
  sync?: { publish: PublishReadyInput; barrier: AwaitPeersReadyInput; wait: boolean; forced: string[] };
}

export interface StepFrontResult {
  results: ComputeGradientResult[];
  /** Function calls that needed more than one attempt (each call is retried alone, like the activity). */
  retries: { shard: number; attempts: number }[];
  /** Calls whose result this front adopted from the step chain that ended the epoch before (activities/prestart.ts). */
  prestarted?: number;
  probe: ProbePeersResult | null;
  sync: StepSyncResult | null;
  /** Wall time of each part, and the longest function call. */
  ms: { compute: number; average: number; probe: number; publish?: number; barrier?: number } & Record<string, number>;
}

export interface StepSyncResult {
  delivered: string[];
  failed: string[];
  /** Null when the workflow waits at the barrier itself (after yielding to the server). */
  barrier: AwaitPeersReadyResult | null;
  ms: { publish: number; barrier?: number };
}

export interface StepFinishInput {
  run: string;
  epoch: number;
  step: number;
  /** Other active peers heard from at the barrier: their gradients are fetched. */
  contributors: string[];
  /** The active set: the aggregation takes this peer and every contributor fetched. */
  active: string[];
  /** The update (its `peers` are the aggregation's). */
  update: Omit<ApplyUpdateInput, 'peers' | 'dropped' | 'run' | 'epoch' | 'step'>;
}

export interface StepFinishResult {
  fetched: FetchPeerGradientsResult;
  /** The peers aggregated (this one and every contributor fetched), in active-set order. */
  inputs: string[];
  aggregate: AggregateGradientsResult;
  update: { applied: boolean; ms: number };
  ms: { fetch: number; aggregate: number; update: number };
}

/**
 * Steps `from`..`to` of an epoch in one local activity, while they need no decision of the workflow (run config
 * `localActivities: 'all'`; peer-training.ts decides when): each step is stepFront then stepFinish, exactly
 * as the workflow would call them, and a step ends the chain as soon as anything at its barrier or fetch is
 * other than the steady state (a suspect, a vote that differs, a timeout, a missing or dropped gradient), so
 * the workflow handles that step itself. One marker in history per chain instead of two per step, and no
 * workflow activation between the steps.
 */
export interface StepChainInput {
  /** The front input of every step of the chain, in order; each step after the first waits from the cursor the previous barrier returned. */
  fronts: StepFrontInput[];
  /**
   * The first step's front already ran (it announced ready without waiting, and the workflow then yielded to
   * the server): the chain starts at that step's barrier, with this front's results, and runs its front for
   * the later steps only. `ms.barrier` holds the time already spent (the yield).
   */
  resume?: StepFrontResult;
  /** The finish input of every step, but its step and its update's timings, retries and release. */
  finish: Omit<StepFinishInput, 'step'>;
  /** The working tensors the first step's update deletes (the step before the chain's); each later step deletes its predecessor's. */
  release: StepRelease | null;
  /** Every other peer of the run (whose copies a step's release names). */
  copied: string[];
  /** The last step announces ready without waiting: the workflow yields to the server, then waits itself. */
  yieldLast: boolean;
  /** Once the chain has run this long, the next step announces ready without waiting and the chain ends there (null: never). */
  yieldAfterMs: number | null;
  /**
   * The next epoch's first function calls, when the chain's last step is its epoch's last: started once that
   * step's update is applied, for the next run's first front to adopt (activities/prestart.ts).
   */
  prestart?: ComputeGradientEvent[];
}

/** A step the chain completed: what the workflow records for it. */
export interface ChainedStep {
  step: number;
  loss: number;
  samples: number;
  calls: number;
  cursor: string;
  inputs: string[];
  dropped: { peer: string; reason: string }[];
  timings: Record<string, number>;
}

export interface StepChainResult {
  done: ChainedStep[];
  /** The step after the last one done, when only its front ran: it announced ready (and waited, unless `barrier` is null). */
  pending: StepFrontResult | null;
  /** Why the chain ended where it did. */
  ended: 'end' | 'yield' | 'unsteady' | 'dropped' | 'error';
  /** The error that ended it (the workflow runs that step again itself, with the usual retries). */
  error?: string;
}

/** Whether a barrier's outcome is the steady state: every active peer ready, nobody suspected, every vote the same and empty. */
export function steadyBarrier(front: StepFrontResult, active: string[], membership: MembershipEvent[]): boolean {
  const b = front.sync?.barrier;
  if (!b || b.timedOut || b.removedNotice || b.suspected.length > 0 || b.missing.length > 0) return false;
  if ((front.probe?.suspected.length ?? 0) > 0) return false;
  const voters = Object.keys(b.votes);
  if (voters.length !== active.length || !active.every((p) => voters.includes(p))) return false;
  const mine = membershipKey(membership);
  return Object.values(b.votes).every(
    (v) =>
      v.suspects.length === 0 &&
      Object.keys(v.missing).length === 0 &&
      v.adds.length === 0 &&
      !v.stop &&
      membershipKey(v.membership) === mine,
  );
}

/**
 * The membership decisions a list holds, as a set: peers that decided the same removal record it with their
 * own reason text (their detectors' own timings), and possibly in another order, so the events are compared by
 * what was decided (as adoptDecisions compares them in the workflow).
 */
function membershipKey(events: MembershipEvent[]): string {
  return [...new Set(events.map((e) => `${e.change}:${e.peer}:${e.epoch}:${e.step}`))].sort().join(',');
}

/** Whether this local activity was cancelled (an abandoned chain stops at its next step); false outside one. */
function cancelled(): boolean {
  try {
    return Context.current().cancellationSignal.aborted;
  } catch {
    return false;
  }
}

/**
 * One function call retried alone, as the regular computeShardGradient activity is: a failed shard does not
 * make the fused activity (and every other shard with it) run again. Errors a retry cannot fix are thrown at once.
 */
async function retried<T>(call: () => Promise<T>, attempt: (n: number) => void): Promise<T> {
  for (let n = 1; ; n++) {
    attempt(n);
    try {
      return await call();
    } catch (err) {
      if (n >= RETRY.maximumAttempts || nonRetryableErrorTypes.includes((err as Error).name)) throw err;
      await new Promise((r) => setTimeout(r, RETRY.initialIntervalMs * RETRY.backoffCoefficient ** (n - 1)));
    }
  }
}

export function makeFusedStep(deps: ActivityDeps) {
  const compute = makeComputeShardGradient(deps);
  const average = makeAverageShardGradients(deps);
  const probe = makeProbePeers(deps);
  const publish = makePublishReady(deps);
  const barrier = makeAwaitPeersReady(deps);
  const fetch = makeFetchPeerGradients(deps);
  const aggregate = makeAggregateGradients(deps);
  const update = makeApplyUpdate(deps);
  const timed = async <T>(work: () => Promise<T>): Promise<[T, number]> => {
    const started = Date.now();
    const value = await work();
    return [value, Date.now() - started];
  };

  /** Announce ready, then wait at the barrier. */
  const stepSync = async (input: Omit<NonNullable<StepFrontInput['sync']>, 'forced'>): Promise<StepSyncResult> => {
    const [sent, publishMs] = await timed(() => publish(input.publish));
    trace(deps.peerId, 'published', input.barrier.step);
    if (!input.wait) return { ...sent, barrier: null, ms: { publish: publishMs } };
    const [waited, barrierMs] = await timed(() => barrier(input.barrier));
    return { ...sent, barrier: waited, ms: { publish: publishMs, barrier: barrierMs } };
  };

  /** Compute every unit's gradient, average them, read the detector, then announce ready and wait. */
  async function stepFront(input: StepFrontInput): Promise<StepFrontResult> {
    if (input.sync?.barrier.prefetch) deps.prefetcher?.start(prefetchInput(deps.peerId, input.sync.barrier));
    const attempts = input.calls.map(() => 0);
    const tstep = input.calls[0]?.step ?? -1;
    trace(deps.peerId, 'front', tstep);
    let prestarted = 0;
    const call = async (c: ComputeGradientEvent, i: number): Promise<ComputeGradientResult> => {
      const adopted = (await deps.prestarts?.adopt(c)) ?? null;
      if (adopted) {
        prestarted++;
        return adopted;
      }
      return retried(
        () => compute(c),
        (n) => (attempts[i] = n),
      );
    };
    const [results, computeMs] = await timed(() => Promise.all(input.calls.map(call)));
    trace(deps.peerId, 'computed', tstep);
    const [averaged, averageMs] = await timed(() => average({ ...input.average, shards: input.calls.length }));
    trace(deps.peerId, 'averaged', tstep);
    const [probed, probeMs] = await timed(async () => (input.probe ? probe(input.probe) : null));
    // `sign` (reading the average out, hashing and signing it) lies inside `average`.
    const ms = {
      compute: computeMs,
      ...slowestCallTimings(results),
      average: averageMs,
      sign: averaged.signMs,
      probe: probeMs,
    };
    const retries = attempts.flatMap((n, i) => (n > 1 ? [{ shard: input.calls[i].shard, attempts: n }] : []));
    const adopted = prestarted > 0 ? { prestarted } : {};
    if (!input.sync || !input.probe || !probed) return { results, retries, ...adopted, probe: probed, sync: null, ms };
    const { publish: announce, forced, ...wait } = input.sync;
    const suspects = suspectsOf(input.probe.peers, probed.suspected, forced);
    const synced = await stepSync({ publish: { ...announce, message: { ...announce.message, suspects } }, ...wait });
    return { results, retries, ...adopted, probe: probed, sync: synced, ms: { ...ms, ...synced.ms } };
  }

  /** A front that announced ready without waiting, completed by its wait at the barrier. */
  async function resumeFront(front: StepFrontResult, input: AwaitPeersReadyInput): Promise<StepFrontResult> {
    if (!front.sync) throw new Error('stepChain: the resumed step did not announce ready');
    const [waited, waitMs] = await timed(() => barrier(input));
    const barrierMs = (front.ms.barrier ?? 0) + waitMs;
    return {
      ...front,
      sync: { ...front.sync, barrier: waited, ms: { ...front.sync.ms, barrier: barrierMs } },
      ms: { ...front.ms, barrier: barrierMs },
    };
  }

  return {
    stepFront,
    stepFinish,

    /** Steps in a row without the workflow (StepChainInput). */
    async stepChain(input: StepChainInput): Promise<StepChainResult> {
      const started = Date.now();
      const done: ChainedStep[] = [];
      const { active } = input.finish;
      let release = input.release;
      let cursor: string | null = null;
      const last = input.fronts.length - 1;
      for (let i = 0; i <= last; i++) {
        if (cancelled()) throw new CancelledFailure(`stepChain cancelled after ${done.length} steps`);
        const base = input.fronts[i];
        const sync = base.sync;
        if (!sync) throw new Error('stepChain: every chained step synchronises (local steps are not chained)');
        const late = i > 0 && input.yieldAfterMs !== null && Date.now() - started >= input.yieldAfterMs;
        const wait = !(late || (i === last && input.yieldLast));
        const barrier = cursor === null ? sync.barrier : { ...sync.barrier, cursor };
        const step = sync.barrier.step;
        let front: StepFrontResult;
        try {
          front =
            i === 0 && input.resume
              ? await resumeFront(input.resume, sync.barrier)
              : await stepFront({ ...base, sync: { ...sync, barrier, wait } });
        } catch (err) {
          if (done.length === 0) throw err;
          return { done, pending: null, ended: 'error', error: (err as Error).message };
        }
        if (!wait) return { done, pending: front, ended: 'yield' };
        // Steady: every vote carries the membership this peer announced.
        if (!steadyBarrier(front, active, sync.publish.message.membership))
          return { done, pending: front, ended: 'unsteady' };
        let finish: StepFinishResult;
        try {
          finish = await stepFinish({
            ...input.finish,
            step,
            update: {
              ...input.finish.update,
              timings: { ...front.ms, agree: 0 },
              retries: front.retries,
              ...(front.prestarted ? { prestarted: front.prestarted } : {}),
              ...(release ? { release } : {}),
            },
          });
        } catch (err) {
          return { done, pending: front, ended: 'error', error: (err as Error).message };
        }
        const samples = front.results.reduce((a, r) => a + r.count, 0);
        cursor = front.sync!.barrier!.cursor;
        done.push({
          step,
          loss: front.results.reduce((a, r) => a + r.loss * r.count, 0) / Math.max(1, samples),
          samples,
          calls: base.calls.length,
          cursor,
          inputs: finish.inputs,
          dropped: finish.fetched.dropped,
          // The same phases as a step the workflow runs (its agreement took no time: nothing to agree on).
          timings: { ...front.ms, agree: 0, ...finish.ms },
        });
        release = nextRelease(release, {
          epoch: sync.barrier.epoch,
          step,
          shards: base.calls.length,
          peers: input.copied,
        });
        if (finish.fetched.dropped.length > 0) return { done, pending: null, ended: 'dropped' };
      }
      // The epoch's last update is applied: the next epoch's first calls read the model it starts from.
      if (input.prestart?.length && deps.prestarts) {
        deps.prestarts.start(input.prestart, (c) =>
          retried(
            // It outlives the chain that started it: no activity context (and no heartbeat) around it.
            () => callComputeGradient(deps, c),
            () => undefined,
          ),
        );
        trace(deps.peerId, 'prestarted', input.prestart[0].step, { epoch: input.prestart[0].epoch });
      }
      return { done, pending: null, ended: 'end' };
    },
  };

  /** Fetch the contributors' gradients, aggregate them with this peer's, update the model. */
  async function stepFinish(input: StepFinishInput): Promise<StepFinishResult> {
    const { run, epoch, step } = input;
    trace(deps.peerId, 'finish', step);
    const [fetched, fetchMs] = await timed(() => fetch({ run, epoch, step, peers: input.contributors }));
    trace(deps.peerId, 'fetched', step);
    const inputs = input.active.filter((p) => p === deps.peerId || fetched.fetched.includes(p));
    const [aggregated, aggregateMs] = await timed(() => aggregate({ run, epoch, step, peers: inputs }));
    trace(deps.peerId, 'aggregated', step);
    const timings = { ...(input.update.timings ?? {}), fetch: fetchMs, aggregate: aggregateMs };
    const updated = await update({
      ...input.update,
      run,
      epoch,
      step,
      peers: inputs,
      timings,
      dropped: fetched.dropped,
    });
    trace(deps.peerId, 'updated', step);
    return {
      fetched,
      inputs,
      aggregate: aggregated,
      update: updated,
      ms: { fetch: fetchMs, aggregate: aggregateMs, update: updated.ms },
    };
  }
}
