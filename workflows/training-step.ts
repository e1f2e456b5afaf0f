// One synchronous training step of one peer: the paper's steps in the paper's order (section III.3),
// one activity each. Deterministic workflow code; every side effect is in an activity.
import { ApplicationFailure, log, patched } from '@temporalio/workflow';
import { agreeOnRemovals, isQuorum, promoteDeferredAdds } from '../lib/membership/agreement';
import type { ComputeGradientEvent, ComputeGradientResult } from '../lib/protocol/functions';
import { slowestCallTimings } from '../lib/protocol/function-timings';
import type { AwaitPeersReadyResult } from '../activities/await-peers-ready';
import type { StepChainResult, StepFrontResult, StepSyncResult } from '../activities/fused-step';
import { suspectsOf } from '../lib/membership/suspects';
import {
  catchUpBatches,
  initialOwners,
  reassignUnits,
  unitsOf,
  type BatchRef,
  type UnitOwners,
} from '../lib/membership/redistribution';
import { nextRelease, type MembershipEvent, type PeerTrainingState, type StepTimings } from '../lib/protocol/types';
import {
  agreeOnInactivePeers,
  aggregateGradients,
  applyUpdate,
  averageShardGradients,
  awaitPeersReady,
  awaitPeersReadyLocal,
  computeShardGradient,
  computeShardGradientLocal,
  fetchPeerGradients,
  probePeers,
  publishReady,
  stepChain,
  stepFinish,
  stepFront,
} from './activity-proxies';

interface StepDone {
  loss: number;
  samples: number;
  timings: StepTimings;
  parallelism: number;
  /** Peers every peer heard from at this step asked to admit (addPeer signals), for the epoch boundary. */
  agreedAdds: string[];
}

export type StepOutcome =
  | ({ kind: 'continue' } & StepDone)
  /** Every peer ends after this step (a stop signal or convergence reached one of them). */
  | ({ kind: 'stop'; reason: string } & StepDone)
  /** This peer is no longer in the active set (the others removed it, or an operator did). */
  | { kind: 'removed'; reason: string; timings: StepTimings };

export interface StepHooks {
  /** Reports the current phase (status query, UI). */
  phase(name: string): void;
  /** Reports the peers suspected at this step. */
  suspected(peers: string[]): void;
  /** Present when the fused step should yield to the server: it does so while it waits for the others. */
  yieldNow?: () => Promise<void>;
}

/**
 * A step a stepChain ended on: what the chain announced for it (its vote's stop and forced suspects, which
 * the rest of the step keeps whatever signals came since), and its front if that ran (null when it failed
 * and the workflow runs it again).
 */
export interface ChainedFront {
  front: StepFrontResult | null;
  announcedStop: string | null;
  forced: string[];
}

/**
 * Runs step `step` of `state.epoch` and updates `state` in place (sync cursor, active set, membership,
 * assignment, catch-up work, missing-gradient streaks).
 */
/** The update's SGD settings. */
function sgdOf(config: PeerTrainingState['config']) {
  return { lr: config.learningRate, momentum: config.momentum, weightDecay: config.weightDecay };
}

/** The inputs of step `step`'s activities, as the workflow's state stands (pure). */
function stepInputs(state: PeerTrainingState, step: number) {
  const { run, config, epoch, peerId } = state;
  const self = state.peers.find((p) => p.id === peerId);
  if (!self) throw ApplicationFailure.nonRetryable(`peer ${peerId} is not in the peer list`, 'ConfigError');
  // III.3.3 Compute gradients: one function per unit this peer owns (its own shards first, as shard i = own
  // shard i), plus catch-up batches of a removed peer. The degree of parallelism follows the workload.
  // A peer owns its own rank's shards unless the data was re-cut for a peer that joined after the start;
  // then (and for taken-over units) each call names its batch.
  const mine = unitsOf(state.owners, peerId);
  const ownShards = mine.filter((u) => u.rank === self.rank).sort((a, b) => a.shard - b.shard);
  const plain = ownShards.every((u, i) => u.shard === i) ? ownShards : [];
  const owned = mine.filter((u) => !plain.includes(u));
  const extra: BatchRef[] = [...owned.map((u) => ({ ...u, epoch, step })), ...state.catchUp];
  const calls = [
    ...plain.map((u) => ({ run, epoch, step, shard: u.shard })),
    ...extra.map((batch, i) => ({ run, epoch, step, shard: plain.length + i, batch })),
  ];
  // Local SGD (syncEvery H > 1): H - 1 steps on this peer's own model, then a synchronisation (also at the
  // epoch's last step, so that every epoch ends on one model).
  const every = config.syncEvery ?? 1;
  const sgd = sgdOf(config);
  const localStep = every > 1 && (step + 1) % every !== 0 && step + 1 < (state.dataset?.stepsPerEpoch ?? 0);
  const average = {
    run,
    epoch,
    step,
    ...(every > 1 ? { localSgd: { ...sgd, mode: localStep ? ('local' as const) : ('sync' as const) } } : {}),
  };
  // III.3.5 Liveness: the worker probes every peer continuously; the step reads who is suspected now.
  const others = state.active.filter((p) => p !== peerId);
  const probeInput = {
    run,
    peers: others,
    watch: {
      probeIntervalMs: config.probeIntervalMs,
      probeTimeoutMs: config.probeTimeoutMs,
      suspectAfter: config.suspectAfter,
      heartbeatStaleMs: config.heartbeatStaleMs,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
    },
  };
  // III.3.6's barrier, built here because the fused step starts copying peers' gradients while it computes.
  const barrierInput = {
    run,
    epoch,
    step,
    expected: state.active,
    cursor: state.syncCursor,
    timeoutMs: config.syncTimeoutMs,
    forceSuspected: state.operatorRemoved,
    ignoreRemovedBefore: state.activeSince ?? [0, 0],
    prefetch: config.prefetch !== false,
  };
  // III.2.5 The ready(epoch, step) announcement with this peer's suspicions (its vote), to every active peer.
  const publishInput = (suspects: string[], stop: string | null) => ({
    message: {
      run,
      epoch,
      step,
      suspects,
      missing: state.missing,
      membership: state.membership,
      adds: state.pendingAdds,
      stop,
    },
    to: state.active,
  });
  return { calls, every, sgd, localStep, average, others, probeInput, barrierInput, publishInput };
}

/**
 * Runs step `step` of `state.epoch` and updates `state` in place (sync cursor, active set, membership,
 * assignment, catch-up work, missing-gradient streaks). With `pre`, the step's fused front already ran (at
 * the end of a stepChain) and only the rest of the step runs here.
 */
export async function trainingStep(
  state: PeerTrainingState,
  step: number,
  hooks: StepHooks,
  pre?: ChainedFront,
): Promise<StepOutcome> {
  const { run, config, epoch, peerId } = state;
  const timings: StepTimings = {};
  let mark = Date.now();
  const phase = (name: string) => {
    hooks.phase(name);
    mark = Date.now();
  };
  const done = (name: string) => {
    timings[name] = (timings[name] ?? 0) + (Date.now() - mark);
  };
  const fused = config.localActivities === 'all';
  phase('compute');
  const { calls, every, sgd, localStep, average, others, probeInput, barrierInput, publishInput } = stepInputs(
    state,
    step,
  );
  const forced = pre ? pre.forced : state.operatorRemoved;
  barrierInput.forceSuspected = forced;
  // A stop counts from the step whose ready announced it: every peer then sees it in the same votes and ends
  // after the same step (a stop signal arriving after this point waits for the next step's ready).
  let announcedStop = pre ? pre.announcedStop : state.stopRequested;
  let results: ComputeGradientResult[];
  let probe: { suspected: { peer: string; reason: string }[] } | null = null;
  let synced: StepSyncResult | null = null;
  let retries: { shard: number; attempts: number }[] = [];
  let prestarted = 0;
  if (fused) {
    // Compute, average, probe, announce and wait in one local activity; the vote is the pure suspectsOf of
    // the probe, as below. A due yield goes between the announcement and the wait (a local step yields first).
    // A step a stepChain ended on has run its front already (announced with the chain's state, which is this one).
    if (localStep && !pre) await hooks.yieldNow?.();
    const yieldAtBarrier = localStep ? undefined : hooks.yieldNow;
    const front =
      pre?.front ??
      (await stepFront({
        calls,
        average,
        probe: localStep ? null : probeInput,
        ...(!localStep
          ? {
              sync: {
                publish: publishInput([], announcedStop),
                barrier: barrierInput,
                wait: !yieldAtBarrier,
                forced,
              },
            }
          : {}),
      }));
    results = front.results;
    probe = front.probe;
    Object.assign(timings, front.ms);
    retries = front.retries;
    prestarted = front.prestarted ?? 0;
    if (front.sync && !front.sync.barrier) {
      phase('barrier');
      await hooks.yieldNow?.();
      const waited = await awaitPeersReadyLocal(barrierInput);
      synced = { ...front.sync, barrier: waited };
      timings.barrier = Date.now() - mark;
    } else synced = front.sync;
  } else {
    const compute = config.localActivities === 'none' ? computeShardGradient : computeShardGradientLocal;
    results = await Promise.all(calls.map((call) => compute(call)));
    done('compute');
    // Inside the compute phase: the longest function call and its parts (the rest of the phase is dispatch).
    Object.assign(timings, slowestCallTimings(results));
    // III.3.4 Average the shard gradients inside this peer's Redis.
    phase('average');
    await averageShardGradients({ ...average, shards: calls.length });
    done('average');
  }
  state.catchUp = [];
  const samples = results.reduce((a, r) => a + r.count, 0);
  const loss = results.reduce((a, r) => a + r.loss * r.count, 0) / Math.max(1, samples);

  if (localStep) {
    phase('update');
    const release = state.releasable;
    const update = await applyUpdate({
      run,
      epoch,
      step,
      peers: [peerId],
      ...sgd,
      timings,
      retries,
      mode: 'local',
      ...(release ? { release } : {}),
    });
    state.releasable = nextRelease(release, { epoch, step, shards: calls.length, peers: [] });
    timings.update = update.ms;
    const local: StepDone = { loss, samples, timings, parallelism: calls.length, agreedAdds: [] };
    // A stop waits for the next synchronisation, where every peer sees it in the same votes.
    return { kind: 'continue', ...local };
  }

  if (!probe) {
    phase('probe');
    probe = await probePeers(probeInput);
    done('probe');
  }
  const reasons: Record<string, string> = {};
  for (const s of probe.suspected) reasons[s.peer] = s.reason;
  for (const p of forced)
    reasons[p] =
      (state.silent?.[p] ?? 0) >= SILENT_BARRIERS
        ? `no ready at ${state.silent?.[p]} barriers in a row`
        : 'removed by operator';
  const suspects = suspectsOf(others, probe.suspected, forced);
  hooks.suspected(suspects);

  // III.3.6 Barrier: wait for every active peer that is not suspected.
  let barrier: AwaitPeersReadyResult;
  if (synced?.barrier) {
    barrier = synced.barrier;
  } else {
    phase('publish');
    // Step by step, signals are handled between activities: a stop that came during the computation counts here.
    announcedStop = state.stopRequested;
    await publishReady(publishInput(suspects, announcedStop));
    done('publish');
    phase('barrier');
    barrier = await awaitPeersReady(barrierInput);
    done('barrier');
  }
  state.syncCursor = barrier.cursor;
  // A peer that announced its departure is voted out from the next step on, as if this peer had been sent
  // the operator's removePeer signal too (its signal may still be queued). Older histories have no field.
  for (const { peer } of barrier.departed ?? []) forceRemoval(state, peer);
  noteSilence(state, barrier);
  if (barrier.removedNotice) {
    return { kind: 'removed', reason: `removed by the other peers: ${barrier.removedNotice.reason}`, timings };
  }
  const heard = Object.keys(barrier.votes);
  if (barrier.timedOut && !isQuorum(heard, state.active)) {
    throw ApplicationFailure.nonRetryable(
      `lost quorum at epoch ${epoch} step ${step}: heard from ${heard.join(',') || 'nobody'} of ${state.active.join(',')} within ${config.syncTimeoutMs} ms`,
      'QuorumLostError',
    );
  }
  for (const s of barrier.suspected) reasons[s.peer] ??= s.reason;

  // III.3.10 Agree on inactive peers: a peer leaves when every other active peer lists it. Decisions
  // another peer reached earlier (and this one missed) are adopted from its message. The rule is pure and
  // runs here; the activity only records and announces a removal.
  phase('agree');
  adoptDecisions(state, barrier.votes);
  const votes: Record<string, string[]> = {};
  for (const [p, v] of Object.entries(barrier.votes)) if (state.active.includes(p)) votes[p] = v.suspects;
  const decision = agreeOnRemovals({ active: state.active, votes });
  if (decision.decided && decision.removed.length > 0) {
    const agreement = await agreeOnInactivePeers({ run, epoch, step, active: state.active, votes, reasons });
    if (agreement.decided && agreement.events.length > 0) applyRemovals(state, agreement.events, barrier.votes);
  }
  done('agree');
  if (!state.active.includes(peerId)) {
    const event = state.membership.filter((e) => e.peer === peerId).pop();
    return { kind: 'removed', reason: event?.reason ?? 'removed from the active set', timings };
  }

  // III.3.7 Fetch the other active peers' averaged gradients, then aggregate them robustly.
  // III.3.8 Update the model inside Redis (once per step, even when retried).
  const contributors = heard.filter((p) => p !== peerId && state.active.includes(p));
  // The previous step's working tensors go with this update; this step's with the next one.
  const release = state.releasable;
  const updateBase = {
    ...sgd,
    ...(every > 1 ? { mode: 'sync' as const } : {}),
    ...(release ? { release } : {}),
  };
  let dropped: { peer: string; reason: string }[];
  let inputs: string[];
  if (fused) {
    phase('update');
    const finish = await stepFinish({
      run,
      epoch,
      step,
      contributors,
      active: state.active,
      update: { ...updateBase, timings, retries, ...(prestarted ? { prestarted } : {}) },
    });
    dropped = finish.fetched.dropped;
    inputs = finish.inputs;
    Object.assign(timings, finish.ms);
  } else {
    phase('fetch');
    const fetched = await fetchPeerGradients({ run, epoch, step, peers: contributors });
    done('fetch');
    dropped = fetched.dropped;
    inputs = state.active.filter((p) => p === peerId || fetched.fetched.includes(p));
    phase('aggregate');
    await aggregateGradients({ run, epoch, step, peers: inputs });
    done('aggregate');
    phase('update');
    const update = await applyUpdate({ run, epoch, step, peers: inputs, ...updateBase, timings, dropped });
    timings.update = update.ms;
  }
  settleStep(state, step, calls.length, inputs, dropped);
  const stop = announcedStop ?? Object.values(barrier.votes).find((v) => v.stop)?.stop ?? null;
  const voters = Object.entries(barrier.votes).filter(([p]) => state.active.includes(p));
  const agreedAdds = state.pendingAdds.filter((p) => voters.every(([, v]) => v.adds.includes(p)));
  const result: StepDone = { loss, samples, timings, parallelism: calls.length, agreedAdds };
  return stop ? { kind: 'stop', reason: stop, ...result } : { kind: 'continue', ...result };
}

/**
 * After a step's update: its working tensors go with the next update, dropped gradients are logged, and the
 * streaks of peers whose gradient this peer did not aggregate (where catch-up starts if they are removed).
 */
function settleStep(
  state: PeerTrainingState,
  step: number,
  calls: number,
  inputs: string[],
  dropped: { peer: string; reason: string }[],
): void {
  const { epoch, peerId } = state;
  const copied = state.peers.map((p) => p.id).filter((p) => p !== peerId);
  state.releasable = nextRelease(state.releasable, { epoch, step, shards: calls, peers: copied });
  for (const d of dropped) log.warn('peer gradient dropped from this step', { peer: d.peer, reason: d.reason });
  if (dropped.length > 0)
    state.dropped = [...(state.dropped ?? []), ...dropped.map((d) => ({ epoch, step, ...d }))].slice(-20);
  for (const p of state.active) {
    if (p === peerId) continue;
    if (inputs.includes(p)) delete state.missing[p];
    else state.missing[p] ??= [epoch, step];
  }
}

/**
 * Suspects an active peer from now on whatever the detector says, so that this peer votes it out (the
 * operator's removePeer signal, or the peer's own departure notice). Not this peer itself.
 */
export function forceRemoval(state: PeerTrainingState, peer: string): void {
  if (peer !== state.peerId && state.active.includes(peer) && !state.operatorRemoved.includes(peer)) {
    state.operatorRemoved = [...state.operatorRemoved, peer];
    promoteAdds(state, [peer]);
  }
}

/**
 * Barriers in a row that timed out without a peer's ready before this peer votes it out. A peer whose workflow
 * ended without a word (terminated, or failed) while its worker runs is never suspected by the failure
 * detector (the worker heartbeats, its Redis answers); every other peer waited syncTimeoutMs for it at every
 * step, for ever. Each other peer sees the same time-outs, so the vote is unanimous.
 */
export const SILENT_BARRIERS = 2;

/** Counts the active peers missing at a barrier that timed out; forces the removal of those silent for long. */
function noteSilence(state: PeerTrainingState, barrier: { timedOut: boolean; missing: string[] }): void {
  if (!barrier.timedOut && !state.silent) return;
  const silent: Record<string, number> = {};
  if (barrier.timedOut)
    for (const p of barrier.missing)
      if (p !== state.peerId && state.active.includes(p)) silent[p] = (state.silent?.[p] ?? 0) + 1;
  state.silent = silent;
  for (const [p, n] of Object.entries(silent)) {
    // patched: a run that started before silent peers were voted out replays its history without it.
    if (n >= SILENT_BARRIERS && !state.operatorRemoved.includes(p) && patched('silent-peer')) {
      log.warn('peer voted out: no ready at consecutive barriers', { peer: p, barriers: n });
      forceRemoval(state, p);
    }
  }
}

/** An add deferred while its peer was active joins the queue for the next epoch boundary once the peer leaves. */
function promoteAdds(state: PeerTrainingState, gone: string[]): void {
  if (!state.deferredAdds?.length) return;
  const adds = promoteDeferredAdds({ pending: state.pendingAdds, deferred: state.deferredAdds }, gone);
  state.pendingAdds = adds.pending;
  state.deferredAdds = adds.deferred;
}

/**
 * Whether steps can run as a stepChain from this state: the fused step, every step synchronised, and nothing
 * pending that a step would announce or act on (a stop, an operator's removal, a peer to add, a missing
 * gradient, catch-up work). The chain itself ends at the first step whose barrier is not this steady state.
 */
export function chainable(state: PeerTrainingState): boolean {
  return (
    state.config.localActivities === 'all' &&
    (state.config.syncEvery ?? 1) <= 1 &&
    state.stopRequested === null &&
    state.operatorRemoved.length === 0 &&
    state.pendingAdds.length === 0 &&
    state.catchUp.length === 0 &&
    Object.keys(state.missing).length === 0
  );
}

/**
 * Steps `from`..`to` (chainable() holds) in one stepChain local activity. A chain that ended on a barrier that
 * is not the steady state (or on an error) has the rest of that step run through trainingStep. A chain that
 * ended at a yield point returns that step's front as `pending`: it announced ready without waiting, and the
 * caller yields to the server, then goes on with `resume` (a chain that starts at that step's barrier) or
 * with trainingStep. Returns one outcome per step run; the loop goes on after the last.
 */
export async function trainingChain(
  state: PeerTrainingState,
  from: number,
  to: number,
  hooks: StepHooks,
  opts: {
    yieldLast: boolean;
    yieldAfterMs: number | null;
    resume?: StepFrontResult;
    carry: boolean;
    /** The next epoch's first calls, started when the epoch's last step (`to`) is applied. */
    prestart?: ComputeGradientEvent[];
  },
): Promise<{ outcomes: StepOutcome[]; pending: StepFrontResult | null }> {
  const { run, config, epoch, peerId } = state;
  hooks.phase('compute');
  hooks.suspected([]);
  const fronts = [];
  for (let step = from; step <= to; step++) {
    const { calls, average, probeInput, barrierInput, publishInput } = stepInputs(state, step);
    fronts.push({
      calls,
      average,
      probe: probeInput,
      sync: { publish: publishInput([], null), barrier: barrierInput, wait: true, forced: [] },
    });
  }
  const chain: StepChainResult = await stepChain({
    fronts,
    finish: {
      run,
      epoch,
      contributors: state.active.filter((p) => p !== peerId),
      active: state.active,
      update: sgdOf(config),
    },
    release: state.releasable ?? null,
    copied: state.peers.map((p) => p.id).filter((p) => p !== peerId),
    yieldLast: opts.yieldLast,
    yieldAfterMs: opts.yieldAfterMs,
    ...(opts.resume ? { resume: opts.resume } : {}),
    ...(opts.prestart?.length ? { prestart: opts.prestart } : {}),
  });
  const outcomes: StepOutcome[] = [];
  for (const d of chain.done) {
    state.step = d.step;
    state.syncCursor = d.cursor;
    settleStep(state, d.step, d.calls, d.inputs, d.dropped);
    outcomes.push({
      kind: 'continue',
      loss: d.loss,
      samples: d.samples,
      timings: d.timings,
      parallelism: d.calls,
      agreedAdds: [],
    });
  }
  if (chain.error) log.warn('a chained step failed; the workflow runs it again', { error: chain.error });
  if (opts.carry && chain.ended === 'yield' && chain.pending) return { outcomes, pending: chain.pending };
  if (chain.pending || chain.error) {
    // The rest of the step the chain ended on (after the yield it is due, without `carry`), or all of it
    // again after an error (its ready may have gone out already: it is announced again as the chain announced it).
    const step = from + chain.done.length;
    state.step = step;
    const front = chain.pending;
    const { yieldNow, ...rest } = hooks;
    const yielding = front !== null && chain.ended === 'yield' ? { ...rest, yieldNow } : rest;
    outcomes.push(await trainingStep(state, step, yielding, { front, announcedStop: null, forced: [] }));
  }
  return { outcomes, pending: null };
}

/**
 * The function calls the next epoch's first step will make if nothing changes at the epoch boundary (the
 * active set stays, the data is re-cut by rank over it, nobody has catch-up work): what an epoch's last chain
 * starts early. A boundary that changes them (a peer admitted) makes the next front call the functions itself.
 */
export function nextEpochFirstCalls(state: PeerTrainingState): ComputeGradientEvent[] {
  const next = { ...state, epoch: state.epoch + 1, step: 0, catchUp: [] };
  return stepInputs({ ...next, owners: epochStartOwners(next) }, 0).calls;
}

/** III.3.11 The assignment at an epoch's start: the data re-cut by rank over the active peers. */
export function epochStartOwners(state: PeerTrainingState): UnitOwners {
  return initialOwners(
    state.peers.map((p) => p.id),
    state.active,
    state.config.shardsPerPeer,
    state.partitions ?? state.peers.length,
  );
}

/** Whether a step whose front announced ready without waiting can be resumed by a stepChain: its probe suspected nobody. */
export function resumable(front: StepFrontResult): boolean {
  return front.sync !== null && front.sync.barrier === null && (front.probe?.suspected.length ?? 0) === 0;
}

/**
 * Applies agreed removals: the active set shrinks, the removed peers' units go to the survivors by rank, and
 * this peer queues its share of their batches not aggregated since the earliest streak a survivor reported.
 */
export function applyRemovals(
  state: PeerTrainingState,
  events: MembershipEvent[],
  votes: Record<string, { missing: Record<string, [number, number]> }>,
): void {
  const removed = events.map((e) => e.peer).filter((p) => state.active.includes(p));
  if (removed.length === 0) return;
  const before = state.owners;
  state.active = state.active.filter((p) => !removed.includes(p));
  state.membership = [...state.membership, ...events.filter((e) => removed.includes(e.peer))];
  state.operatorRemoved = state.operatorRemoved.filter((p) => !removed.includes(p));
  promoteAdds(state, removed);
  if (state.active.length === 0 || !state.active.includes(state.peerId)) return;
  state.owners = reassignUnits(before, removed, state.active);
  for (const e of events) {
    if (!removed.includes(e.peer)) continue;
    delete state.missing[e.peer];
    if (e.epoch !== state.epoch) continue;
    // The removed peer's batches from the earliest step any survivor missed, up to the decision step.
    let since = e.step;
    for (const v of Object.values(votes)) {
      const streak = v.missing[e.peer];
      if (streak && streak[0] === e.epoch) since = Math.min(since, streak[1]);
    }
    const mine = catchUpBatches(before, state.owners, [e.peer], e.epoch, since, e.step)[state.peerId] ?? [];
    state.catchUp = [...state.catchUp, ...mine];
  }
}

/** Removals recorded by another active peer that this peer did not decide itself (it lacked a vote). */
function adoptDecisions(state: PeerTrainingState, votes: Record<string, { membership: MembershipEvent[] }>): void {
  const known = new Set(state.membership.map((e) => `${e.change}:${e.peer}:${e.epoch}:${e.step}`));
  for (const [sender, v] of Object.entries(votes)) {
    if (!state.active.includes(sender)) continue;
    const fresh = v.membership.filter(
      (e) =>
        e.change === 'removed' &&
        state.active.includes(e.peer) &&
        !known.has(`${e.change}:${e.peer}:${e.epoch}:${e.step}`),
    );
    if (fresh.length > 0) {
      log.info('adopting a membership decision', { from: sender, events: fresh });
      applyRemovals(state, fresh, {});
      for (const e of fresh) known.add(`${e.change}:${e.peer}:${e.epoch}:${e.step}`);
    }
  }
}
