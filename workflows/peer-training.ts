// One peer's training: one workflow run per epoch, chained with continueAsNew (paper III.3; AWS Step
// Functions in the paper). The steps themselves are in training-step.ts.
import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  log,
  patched,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { ConfigError } from '../lib/errors/config-error';
import { robustConfigOf } from '../lib/aggregation/rule';
import { addSignalOutcome } from '../lib/membership/agreement';
import {
  accuracyAttribute,
  activePeersAttribute,
  epochAttribute,
  lossAttribute,
  peerAttribute,
  runAttribute,
} from '../lib/protocol/search-attributes';
import { convergence } from '../lib/protocol/convergence';
import { initialState } from '../lib/protocol/start';
import type {
  EpochRecord,
  PeerStatus,
  PeerTrainingInput,
  PeerTrainingState,
  StepTimings,
  TrainingResult,
} from '../lib/protocol/types';
import {
  admitPeers,
  announceDeparture,
  awaitAdmission,
  declineAdmission,
  evaluateModel,
  preparePeer,
  yieldToServer,
} from './activity-proxies';
import { addPeerSignal, removePeerSignal, runPlanQuery, statusQuery, stopSignal } from './messages';
import type { StepFrontResult } from '../activities/fused-step';
import {
  chainable,
  epochStartOwners,
  forceRemoval,
  nextEpochFirstCalls,
  resumable,
  trainingChain,
  trainingStep,
  type StepOutcome,
} from './training-step';

/**
 * One peer's training. Accepts a short start input (`{"run","peer","peers","model",...}`: validated here,
 * defaults applied here) or the state carried by continueAsNew. Each epoch runs `stepsPerEpoch` synchronous
 * steps, evaluates every `evalEvery` epochs, checks convergence and continues as new into the next epoch.
 */
export async function peerTrainingWorkflow(input: PeerTrainingInput): Promise<TrainingResult> {
  let state: PeerTrainingState;
  try {
    state = initialState(input);
  } catch (err) {
    if (err instanceof ConfigError) throw ApplicationFailure.nonRetryable(err.message, 'ConfigError');
    throw err;
  }
  const { config, run, peerId } = state;
  let phase = 'starting';
  let suspected: string[] = [];
  let lastLoss: number | null = null;
  let lastStep: StepTimings | null = null;
  let endReason: string | null = null;
  let removedByOperator: string | null = null;
  const lastAccuracy = () => [...state.history].reverse().find((r) => r.testAccuracy !== null)?.testAccuracy ?? null;

  setHandler(statusQuery, (): PeerStatus => ({
    run,
    peerId,
    epoch: state.epoch,
    epochs: config.epochs,
    step: state.step,
    stepsPerEpoch: state.dataset?.stepsPerEpoch ?? 0,
    phase,
    active: state.active,
    suspected,
    membership: state.membership,
    lastLoss,
    lastAccuracy: lastAccuracy(),
    lastStep,
    dropped: state.dropped ?? [],
    history: state.history,
    done: ['done', 'removed', 'stopped', 'converged'].includes(phase),
    endReason,
  }));
  setHandler(runPlanQuery, () => ({
    run,
    peers: state.peers.map((p) => p.id),
    partitions: state.partitions ?? state.peers.length,
    config,
  }));
  setHandler(addPeerSignal, ({ peer }) => {
    // A peer new to the run is signalled by its join handshake once every active peer has verified it; a
    // removed peer by its rejoin's. Admitted at the first epoch boundary where it is not active.
    const outcome = addSignalOutcome(peer, {
      active: state.active,
      leaving: state.operatorRemoved,
      pending: state.pendingAdds,
    });
    // patched: a run that started before a leaving peer's add was queued (or an active one's deferred)
    // replays its history without it.
    if (outcome === 'queue' || (outcome === 'queue-leaving' && patched('add-while-leaving')))
      state.pendingAdds = [...state.pendingAdds, peer];
    else if (outcome === 'active' && patched('add-deferred')) {
      // Its old workflow ended (spirt peer add checks) but no removal reached this peer yet: admitted once it
      // leaves (an operator's removal, its departure notice, or the failure detector and the agreement).
      if (!(state.deferredAdds ?? []).includes(peer)) state.deferredAdds = [...(state.deferredAdds ?? []), peer];
      log.info('addPeer deferred: the peer is still active here; it is admitted after it leaves', { peer });
    } else if (outcome === 'active') log.warn('addPeer ignored: the peer is active', { peer });
  });
  setHandler(removePeerSignal, ({ peer, reason }) => {
    if (peer === peerId) removedByOperator = reason ?? 'removed by operator';
    else forceRemoval(state, peer);
  });
  setHandler(stopSignal, (args) => {
    state.stopRequested ??= args?.reason ?? 'stopped by operator';
  });

  upsertSearchAttributes([
    { key: runAttribute, value: run },
    { key: peerAttribute, value: peerId },
    { key: epochAttribute, value: state.epoch },
    { key: activePeersAttribute, value: state.active.length },
  ]);

  const finish = (outcome: TrainingResult['outcome']): TrainingResult => {
    phase = outcome === 'completed' ? 'done' : outcome;
    return {
      run,
      peerId,
      epochs: state.history.length,
      history: state.history,
      membership: state.membership,
      outcome,
      endReason,
    };
  };

  // Removed by an operator: the other peers stop waiting for this one at once, even those whose removePeer
  // signal is still queued. patched: a run that started before the notice existed replays without it.
  // (epoch, step) is the first step this peer does not take part in.
  const leave = async (reason: string, epoch: number, step: number): Promise<TrainingResult> => {
    endReason = reason;
    if (patched('departure-notice')) await announceDeparture({ run, epoch, step, reason, to: state.active });
    return finish('removed');
  };

  const self = state.peers.find((p) => p.id === peerId);
  if (!self) throw ApplicationFailure.nonRetryable(`peer ${peerId} is not in the peer list`, 'ConfigError');
  if (!state.dataset) {
    phase = 'prepare';
    const prepared = await preparePeer({
      run,
      model: config.model,
      seed: config.seed,
      dataset: config.dataset,
      trainLimit: config.trainLimit,
      testLimit: config.testLimit,
      peers: state.partitions ?? state.peers.length,
      rank: self.rank,
      ...(state.attack ? { attack: state.attack } : {}),
      ...(config.partition !== 'iid' ? { partition: config.partition } : {}),
      // The rule and its parameters are stored once in the plan, not carried by every step's aggregation.
      robust: robustConfigOf(config),
      shardsPerPeer: config.shardsPerPeer,
      batchSize: config.batchSize,
      maxStepsPerEpoch: config.maxStepsPerEpoch,
      ttlSeconds: config.gradientTtlSeconds,
      path: config.inDbPath,
    });
    state.dataset = {
      trainCount: prepared.trainCount,
      testCount: prepared.testCount,
      stepsPerEpoch: prepared.stepsPerEpoch,
    };
    state.hasBuffers = prepared.bufferCount > 0;
  }
  if (state.joining) {
    // III.3.1 (the model half of a join): wait until an active peer has copied the current model here
    // and named the epoch to start with; the handshake workflow will authenticate this first.
    phase = 'joining';
    // Notices since this workflow started count: the admission may come while the peer was still preparing.
    const notice = await awaitAdmission({ run, timeoutMs: 3_600_000, since: workflowInfo().startTime.getTime() });
    if (!notice) throw ApplicationFailure.nonRetryable(`peer ${peerId} was not admitted within an hour`, 'JoinTimeout');
    if (notice.type === 'declined') {
      endReason = `not admitted: ${notice.reason} (said ${notice.peer})`;
      log.warn('not admitted', { by: notice.peer, reason: notice.reason });
      return finish('stopped');
    }
    state.joining = false;
    state.epoch = notice.epoch;
    state.step = 0;
    state.active = notice.active;
    state.membership = notice.membership;
    if (notice.order) {
      state.partitions ??= state.peers.length;
      const partitions = state.partitions;
      state.peers = notice.order.map((id, rank) => ({ id, rank }));
      state.partitions = Math.min(partitions, state.peers.length);
    }
    state.activeSince = [notice.epoch, 0];
    state.missing = {};
    state.catchUp = [];
    state.operatorRemoved = [];
    state.pendingAdds = [];
    if (state.deferredAdds) state.deferredAdds = [];
    log.info('admitted', { by: notice.peer, epoch: notice.epoch, active: notice.active });
    upsertSearchAttributes([
      { key: epochAttribute, value: state.epoch },
      { key: activePeersAttribute, value: state.active.length },
    ]);
  }
  const { stepsPerEpoch } = state.dataset;
  const partial = state.partial ?? { lossSum: 0, samples: 0, computeMs: 0, startedAt: Date.now(), phaseMs: {} };
  // III.3.11 At an epoch start the data is re-cut by rank over the active peers.
  if (state.step === 0) state.owners = epochStartOwners(state);
  // III.3.9 Every k epochs and at the last (and when the run stops): an evaluation ends the epoch.
  const evaluates = state.epoch % config.evalEvery === 0 || state.epoch === config.epochs;

  let stopReason: string | null = null;
  let parallelism = config.shardsPerPeer;
  let agreedAdds: string[] = [];
  let yieldedAt = Date.now();
  // The front of the next step when a chain ended at a yield point: it announced ready and did not wait.
  let pending: StepFrontResult | null = null;
  for (let step = state.step; step < stepsPerEpoch; step++) {
    state.step = step;
    // With local activities, steps chain inside one workflow task; about every yieldEveryMs the workflow
    // yields to the server (a no-op activity ends the task) so that status queries and signals are answered
    // and a crashed worker re-runs at most that much. The step yields right after announcing ready, so the
    // round trip overlaps the wait for the other peers; and the peers yield at the same steps (every `grid`
    // steps, a power of two from this peer's mean step time: peers in lockstep pick the same grid, or nested
    // ones), since a yield that delays one peer delays every peer at the next barrier.
    // patched: runs started before the default became 2000 ms (docs/benchmarks.md) replay with 1000.
    const yieldEvery = config.yieldEveryMs ?? (patched('yield-every-2s') ? 2000 : 1000);
    let grid = 0;
    let yieldDue = false;
    if (config.localActivities === 'all' && yieldEvery > 0) {
      // An epoch's first step takes the previous epoch's mean step time, so that it chains like the others.
      // patched: a run that started before took the epoch's first step alone replays its history that way.
      const before = step === 0 ? previousStepMs(state) : null;
      const stepMs =
        step > 0
          ? Math.max(1, (Date.now() - partial.startedAt) / step)
          : before !== null && patched('first-step-chain')
            ? before
            : null;
      if (stepMs !== null) {
        grid = 2 ** Math.max(0, Math.ceil(Math.log2(yieldEvery / stepMs)));
        yieldDue = step > 0 && (step % grid === 0 || Date.now() - yieldedAt >= 4 * yieldEvery);
      }
    }
    const yieldNow = async () => {
      await yieldToServer();
      yieldedAt = Date.now();
    };
    if (removedByOperator && !pending) return leave(removedByOperator, state.epoch, step);
    const activeBefore = state.active.length;
    const hooks = { phase: (name: string) => (phase = name), suspected: (peers: string[]) => (suspected = peers) };
    // Between yields, the steps of a steady run (nobody suspected, nothing to announce) go in one local
    // activity: up to the next yield point, the epoch's end, or 64 steps; the first step that is not steady
    // ends the chain early. The chain's last front announces ready and returns (`pending`); the workflow
    // yields, and the next chain starts at that step's barrier, so a yield costs one workflow activation
    // more than a chained step. A step the chain cannot resume (a signal came during the yield, or a peer is
    // suspected) is finished by trainingStep.
    let outcomes: StepOutcome[];
    // The first epoch's first step has no step time to place its yields by: it runs alone.
    const first = step === 0 && config.localActivities === 'all' && yieldEvery > 0 && grid === 0;
    const nextYield = yieldEvery === 0 ? Infinity : grid > 0 ? (Math.floor(step / grid) + 1) * grid : Infinity;
    const to = Math.min(stepsPerEpoch - 1, nextYield, step + 63);
    // A chain through the epoch's last step starts the next epoch's first calls once that step is applied, so
    // that the epoch boundary (this run's end, the next run's start) overlaps them. Not before an evaluation
    // (it runs on the same functions and reads the model first), nor when no epoch follows.
    const chainOpts = () => ({
      yieldLast: to === nextYield,
      yieldAfterMs: yieldEvery > 0 ? Math.max(0, 4 * yieldEvery - (Date.now() - yieldedAt)) : null,
      ...(to === stepsPerEpoch - 1 && !evaluates && config.prestart !== false
        ? { prestart: nextEpochFirstCalls(state) }
        : {}),
    });
    if (pending) {
      const front = pending;
      pending = null;
      const yieldStarted = Date.now();
      await yieldNow();
      const announced = { ...front, ms: { ...front.ms, barrier: Date.now() - yieldStarted } };
      if (resumable(front) && chainable(state) && !removedByOperator && !workflowInfo().continueAsNewSuggested) {
        const chained = await trainingChain(state, step, to, hooks, { ...chainOpts(), resume: announced, carry: true });
        outcomes = chained.outcomes;
        pending = chained.pending;
      } else {
        outcomes = [await trainingStep(state, step, hooks, { front: announced, announcedStop: null, forced: [] })];
      }
    } else if (!first && chainable(state) && (yieldDue || to > step) && patched('step-chain')) {
      // patched: a run that started before stepChain existed replays its history with the single steps it
      // took; one from before chains were resumed after a yield (`step-resume`) took a single step at each
      // yield, and finished a chain's last step (with its yield) in the same iteration.
      const carry = patched('step-resume');
      if (carry || !yieldDue) {
        const chained = await trainingChain(
          state,
          step,
          yieldDue ? step : to,
          { ...hooks, yieldNow },
          {
            ...chainOpts(),
            yieldLast: yieldDue || to === nextYield,
            carry,
          },
        );
        outcomes = chained.outcomes;
        pending = chained.pending;
      } else {
        outcomes = [await trainingStep(state, step, { ...hooks, yieldNow })];
      }
    } else {
      outcomes = [await trainingStep(state, step, { ...hooks, ...(yieldDue ? { yieldNow } : {}) })];
    }
    let stopped = false;
    for (const [i, outcome] of outcomes.entries()) {
      state.step = step + i;
      for (const [name, ms] of Object.entries(outcome.timings))
        partial.phaseMs[name] = (partial.phaseMs[name] ?? 0) + ms;
      lastStep = outcome.timings;
      if (outcome.kind === 'removed') {
        endReason = outcome.reason;
        log.warn('this peer left the active set', { reason: outcome.reason });
        return finish('removed');
      }
      partial.computeMs += outcome.timings.compute ?? 0;
      partial.lossSum += outcome.loss * outcome.samples;
      partial.samples += outcome.samples;
      lastLoss = outcome.loss;
      parallelism = outcome.parallelism;
      agreedAdds = outcome.agreedAdds;
      if (outcome.kind === 'stop') {
        stopReason = outcome.reason;
        stopped = true;
      }
    }
    if (state.active.length !== activeBefore) {
      upsertSearchAttributes([{ key: activePeersAttribute, value: state.active.length }]);
      log.warn('active set changed', { active: state.active, step });
    }
    step += outcomes.length - 1;
    if (stopped) break;
    // A pending front is finished by the next iteration first (it is not carried into a new run).
    if (step + 1 < stepsPerEpoch && !pending && workflowInfo().continueAsNewSuggested) {
      // Keep history bounded on very long epochs: carry the epoch's accumulators into a fresh run.
      await condition(allHandlersFinished);
      return continueAsNew<typeof peerTrainingWorkflow>({ ...state, step: step + 1, partial });
    }
  }

  // III.3.9 Every k epochs (and at the end, or when stopping): evaluate, then check convergence.
  let testLoss: number | null = null;
  let testAccuracy: number | null = null;
  if (evaluates || stopReason !== null) {
    phase = 'evaluate';
    const started = Date.now();
    const evaluation = await evaluateModel({ run });
    partial.phaseMs.evaluate = (partial.phaseMs.evaluate ?? 0) + (Date.now() - started);
    testLoss = evaluation.loss;
    testAccuracy = evaluation.accuracy;
    state.checks = [...state.checks, { epoch: state.epoch, loss: testLoss, accuracy: testAccuracy }];
  }
  const record: EpochRecord = {
    epoch: state.epoch,
    // Fewer than stepsPerEpoch when the run stopped inside the epoch.
    steps: stopReason !== null ? state.step + 1 : stepsPerEpoch,
    trainLoss: partial.samples > 0 ? partial.lossSum / partial.samples : 0,
    testLoss,
    testAccuracy,
    epochMs: Date.now() - partial.startedAt,
    computeMs: partial.computeMs,
    phaseMs: partial.phaseMs,
    activePeers: state.active,
    parallelism,
  };
  state.history = [...state.history, record];
  upsertSearchAttributes([
    { key: epochAttribute, value: state.epoch },
    { key: lossAttribute, value: record.trainLoss },
    ...(testAccuracy !== null ? [{ key: accuracyAttribute, value: testAccuracy }] : []),
  ]);
  log.info('epoch done', { epoch: state.epoch, trainLoss: record.trainLoss, testAccuracy, epochMs: record.epochMs });

  // Peers asked to join that no epoch boundary will admit any more are told so (they would wait an hour).
  // patched: a run that started before the notice existed replays its history without the activity.
  const declinePending = async (why: string) => {
    // Deferred adds too: those peers never left, and their joining workflows wait to be admitted.
    const peers = [...state.pendingAdds, ...(state.deferredAdds ?? [])];
    if (peers.length === 0 || !patched('decline-admission')) return;
    await declineAdmission({ run, epoch: state.epoch, step: state.step, peers, reason: why });
  };
  if (stopReason !== null) {
    endReason = stopReason;
    await declinePending(`the run ended at epoch ${state.epoch} (${stopReason})`);
    await condition(allHandlersFinished);
    return finish(stopReason.startsWith('converged') ? 'converged' : 'stopped');
  }
  if (state.epoch < config.epochs) {
    // A removePeer signal for this peer handled in the epoch's last workflow task (steps chain up to the epoch's
    // end) would be lost with this workflow's local state at continueAsNew.
    if (removedByOperator) return leave(removedByOperator, state.epoch + 1, 0);
    // III.3.1 / rejoin: peers every active peer was asked to admit join at this epoch boundary, with the
    // current model copied from the lowest-rank active peer; the data is re-cut by rank at the epoch start.
    const admit = agreedAdds.filter((p) => !state.active.includes(p));
    if (admit.length > 0) {
      phase = 'admit';
      // Peers new to the run join after its peers, in id order (the same ranks on every peer).
      const newcomers = admit.filter((p) => !state.peers.some((q) => q.id === p)).sort();
      if (newcomers.length > 0) {
        state.partitions ??= state.peers.length;
        state.peers = [...state.peers, ...newcomers.map((id, i) => ({ id, rank: state.peers.length + i }))];
      }
      const ids = state.peers.map((p) => p.id);
      const active = ids.filter((p) => state.active.includes(p) || admit.includes(p));
      const events = admit.map((peer) => ({
        epoch: state.epoch,
        step: stepsPerEpoch - 1,
        peer,
        change: 'added' as const,
        reason: newcomers.includes(peer) ? 'joined through the handshake' : 'readmitted by operator',
      }));
      const membership = [...state.membership, ...events];
      if (state.active[0] === peerId)
        await admitPeers({ run, epoch: state.epoch + 1, peers: admit, active, membership, order: ids });
      state.active = active;
      state.membership = membership;
      state.pendingAdds = state.pendingAdds.filter((p) => !admit.includes(p));
      upsertSearchAttributes([{ key: activePeersAttribute, value: state.active.length }]);
      log.info('peers admitted', { admit, active });
    }
    // A converged peer does not end alone: it asks every peer to stop after the next step (stop travels on
    // the sync messages), so that all peers end at the same step.
    const converged = convergence(state.checks, state.epoch, config);
    if (converged) state.stopRequested ??= converged;
    phase = 'next-epoch';
    await condition(allHandlersFinished);
    return continueAsNew<typeof peerTrainingWorkflow>({
      ...state,
      epoch: state.epoch + 1,
      step: 0,
      partial: undefined,
    });
  }
  await declinePending(`the run ended after its last epoch (${config.epochs}) before an epoch boundary could admit it`);
  await condition(allHandlersFinished);
  return finish('completed');
}

/**
 * The mean step time of the epoch before this one (evaluation excluded), or null: the first epoch, a peer
 * that just joined, or an epoch that stopped at its start.
 */
function previousStepMs(state: PeerTrainingState): number | null {
  const last = state.history.at(-1);
  if (!last || last.epoch !== state.epoch - 1 || last.steps <= 0) return null;
  return Math.max(1, (last.epochMs - (last.phaseMs.evaluate ?? 0)) / last.steps);
}
