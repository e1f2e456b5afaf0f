// A step in two local activities instead of ten (run config `localActivities: 'all'`): every
// activity result wakes the workflow (a workflow activation, a few milliseconds of CPU in the worker each),
// so the paper's steps that follow one another without a decision of the workflow in between run inside one
// activity. Each part is the same activity function as in the step-by-step path, called in the same order;
// each fused activity is one marker in history with every part's input and result, and every part is
// idempotent, so a retried or replayed fused activity repeats nothing that matters.
import type { ComputeGradientEvent, ComputeGradientResult } from '../lib/protocol/functions';
import { suspectsOf } from '../lib/membership/suspects';
import { nonRetryableErrorTypes, RETRY } from '../lib/protocol/errors';
import { slowestCallTimings } from '../lib/protocol/function-timings';
import { makeAggregateGradients, type AggregateGradientsResult } from './aggregate-gradients';
import { makeApplyUpdate, type ApplyUpdateInput } from './apply-update';
import { makeAverageShardGradients, type AverageShardGradientsInput } from './average-shard-gradients';
import {
  makeAwaitPeersReady,
  prefetchInput,
  type AwaitPeersReadyInput,
  type AwaitPeersReadyResult,
} from './await-peers-ready';
import { makeComputeShardGradient } from './compute-shard-gradient';
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
    if (!input.wait) return { ...sent, barrier: null, ms: { publish: publishMs } };
    const [waited, barrierMs] = await timed(() => barrier(input.barrier));
    return { ...sent, barrier: waited, ms: { publish: publishMs, barrier: barrierMs } };
  };

  return {
    /** Compute every unit's gradient, average them, read the detector, then announce ready and wait. */
    async stepFront(input: StepFrontInput): Promise<StepFrontResult> {
      if (input.sync?.barrier.prefetch) deps.prefetcher?.start(prefetchInput(deps.peerId, input.sync.barrier));
      const attempts = input.calls.map(() => 0);
      const [results, computeMs] = await timed(() =>
        Promise.all(
          input.calls.map((c, i) =>
            retried(
              () => compute(c),
              (n) => (attempts[i] = n),
            ),
          ),
        ),
      );
      const [, averageMs] = await timed(() => average({ ...input.average, shards: input.calls.length }));
      const [probed, probeMs] = await timed(async () => (input.probe ? probe(input.probe) : null));
      const ms = { compute: computeMs, ...slowestCallTimings(results), average: averageMs, probe: probeMs };
      const retries = attempts.flatMap((n, i) => (n > 1 ? [{ shard: input.calls[i].shard, attempts: n }] : []));
      if (!input.sync || !input.probe || !probed) return { results, retries, probe: probed, sync: null, ms };
      const { publish: announce, forced, ...wait } = input.sync;
      const suspects = suspectsOf(input.probe.peers, probed.suspected, forced);
      const synced = await stepSync({ publish: { ...announce, message: { ...announce.message, suspects } }, ...wait });
      return { results, retries, probe: probed, sync: synced, ms: { ...ms, ...synced.ms } };
    },

    /** Fetch the contributors' gradients, aggregate them with this peer's, update the model. */
    async stepFinish(input: StepFinishInput): Promise<StepFinishResult> {
      const { run, epoch, step } = input;
      const [fetched, fetchMs] = await timed(() => fetch({ run, epoch, step, peers: input.contributors }));
      const inputs = input.active.filter((p) => p === deps.peerId || fetched.fetched.includes(p));
      const [aggregated, aggregateMs] = await timed(() => aggregate({ run, epoch, step, peers: inputs }));
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
      return {
        fetched,
        inputs,
        aggregate: aggregated,
        update: updated,
        ms: { fetch: fetchMs, aggregate: aggregateMs, update: updated.ms },
      };
    },
  };
}
