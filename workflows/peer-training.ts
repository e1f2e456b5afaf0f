import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  log,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
  type RetryPolicy,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { accuracyAttribute, epochAttribute, lossAttribute } from '../lib/protocol/search-attributes';
import type { EpochRecord, PeerStatus, PeerTrainingState, TrainingResult } from '../lib/protocol/types';
import { statusQuery } from './signals';

// Bad input never gets better by retrying: fail the step at once with the error's own message.
const nonRetryableErrorTypes = [
  'ConfigError',
  'TensorError',
  'DataError',
  'UnknownModelError',
  'EngineError',
  'GraphError',
  'ModelDecodeError',
  'UnsupportedOpError',
];

const retry: RetryPolicy = {
  initialInterval: '200 milliseconds',
  backoffCoefficient: 2,
  maximumAttempts: 5,
  nonRetryableErrorTypes,
};

// Function fan-out and evaluation: regular activities, each shard visible in the UI and retried alone.
const { preparePeer, computeShardGradient, evaluateModel } = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  retry,
});

// Short in-Redis steps run as local activities: chained inside one workflow task, without a
// server round trip each (that round trip dominated small steps), and still recorded in history.
const { averageShardGradients, publishReady, aggregateAndUpdate } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  retry,
});

const { awaitPeersReady } = proxyActivities<Activities>({
  // The barrier has its own timeout (syncTimeoutMs); heartbeats show it is alive while it waits.
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '20 seconds',
  retry,
});

/**
 * One peer's training, one workflow run per epoch chained with continueAsNew. Each epoch runs
 * `stepsPerEpoch` synchronous steps: compute shard gradients (functions, in parallel), average them
 * in Redis, announce ready, wait for the other peers, aggregate their averages and update in Redis.
 */
export async function peerTrainingWorkflow(input: PeerTrainingState): Promise<TrainingResult> {
  const state: PeerTrainingState = { ...input };
  const { config, run, peerId } = state;
  const self = state.peers.find((p) => p.id === peerId);
  if (!self) throw ApplicationFailure.nonRetryable(`peer ${peerId} is not in the peer list`, 'ConfigError');
  let phase = 'starting';
  let lastLoss: number | null = null;

  const status = (): PeerStatus => ({
    run,
    peerId,
    epoch: state.epoch,
    epochs: config.epochs,
    step: state.step,
    stepsPerEpoch: state.dataset?.stepsPerEpoch ?? 0,
    phase,
    lastLoss,
    history: state.history,
    done: phase === 'done',
  });
  setHandler(statusQuery, status);
  upsertSearchAttributes([{ key: epochAttribute, value: state.epoch }]);

  if (!state.dataset) {
    phase = 'prepare';
    const prepared = await preparePeer({
      run,
      model: config.model,
      seed: config.seed,
      dataset: config.dataset,
      trainLimit: config.trainLimit,
      testLimit: config.testLimit,
      peers: state.peers.length,
      shardsPerPeer: config.shardsPerPeer,
      batchSize: config.batchSize,
      maxStepsPerEpoch: config.maxStepsPerEpoch,
    });
    state.dataset = {
      trainCount: prepared.trainCount,
      testCount: prepared.testCount,
      stepsPerEpoch: prepared.stepsPerEpoch,
    };
    state.hasBuffers = prepared.bufferCount > 0;
  }
  const { stepsPerEpoch } = state.dataset;
  const hasBuffers = state.hasBuffers ?? false;
  const partial = state.partial ?? { lossSum: 0, samples: 0, computeMs: 0, startedAt: Date.now() };
  const activePeers = state.peers.map((p) => p.id);

  for (let step = state.step; step < stepsPerEpoch; step++) {
    state.step = step;
    phase = 'compute';
    const shards = Array.from({ length: config.shardsPerPeer }, (_, shard) => shard);
    const computeStarted = Date.now();
    const results = await Promise.all(
      shards.map((shard) =>
        computeShardGradient({
          run,
          peerId,
          model: config.model,
          dataset: config.dataset,
          trainLimit: config.trainLimit,
          peers: state.peers.length,
          rank: self.rank,
          shards: config.shardsPerPeer,
          shard,
          epoch: state.epoch,
          step,
          batchSize: config.batchSize,
          seed: config.seed,
          ttlSeconds: config.gradientTtlSeconds,
        }),
      ),
    );
    partial.computeMs += Date.now() - computeStarted;
    for (const r of results) {
      partial.lossSum += r.loss * r.count;
      partial.samples += r.count;
    }
    lastLoss = results.reduce((a, r) => a + r.loss * r.count, 0) / results.reduce((a, r) => a + r.count, 0);

    phase = 'average';
    await averageShardGradients({
      run,
      epoch: state.epoch,
      step,
      shards: config.shardsPerPeer,
      hasBuffers,
      ttlSeconds: config.gradientTtlSeconds,
      path: config.inDbPath,
    });
    phase = 'sync';
    await publishReady({ run, epoch: state.epoch, step, to: activePeers });
    const barrier = await awaitPeersReady({
      run,
      epoch: state.epoch,
      step,
      expected: activePeers,
      cursor: state.syncCursor,
      timeoutMs: config.syncTimeoutMs,
    });
    state.syncCursor = barrier.cursor;
    if (barrier.missing.length > 0) log.warn('peers missed the sync barrier', { missing: barrier.missing, step });

    phase = 'update';
    await aggregateAndUpdate({
      run,
      epoch: state.epoch,
      step,
      peers: barrier.ready,
      hasBuffers,
      lr: config.learningRate,
      momentum: config.momentum,
      weightDecay: config.weightDecay,
      ttlSeconds: config.gradientTtlSeconds,
      path: config.inDbPath,
      aggregation: config.aggregation,
      byzantineF: config.byzantineF,
    });

    if (step + 1 < stepsPerEpoch && workflowInfo().continueAsNewSuggested) {
      // Keep history bounded on very long epochs: carry the epoch's accumulators into a fresh run.
      await condition(allHandlersFinished);
      return continueAsNew<typeof peerTrainingWorkflow>({ ...state, step: step + 1, partial });
    }
  }

  let testLoss: number | null = null;
  let testAccuracy: number | null = null;
  if (state.epoch % config.evalEvery === 0 || state.epoch === config.epochs) {
    phase = 'evaluate';
    const evaluation = await evaluateModel({
      run,
      peerId,
      model: config.model,
      dataset: config.dataset,
      testLimit: config.testLimit,
    });
    testLoss = evaluation.loss;
    testAccuracy = evaluation.accuracy;
  }
  const record: EpochRecord = {
    epoch: state.epoch,
    steps: stepsPerEpoch,
    trainLoss: partial.samples > 0 ? partial.lossSum / partial.samples : 0,
    testLoss,
    testAccuracy,
    epochMs: Date.now() - partial.startedAt,
    computeMs: partial.computeMs,
    activePeers,
  };
  state.history = [...state.history, record];
  upsertSearchAttributes([
    { key: epochAttribute, value: state.epoch },
    { key: lossAttribute, value: record.trainLoss },
    ...(testAccuracy !== null ? [{ key: accuracyAttribute, value: testAccuracy }] : []),
  ]);
  log.info('epoch done', { epoch: state.epoch, trainLoss: record.trainLoss, testAccuracy, epochMs: record.epochMs });

  if (state.epoch < config.epochs) {
    phase = 'next-epoch';
    await condition(allHandlersFinished);
    return continueAsNew<typeof peerTrainingWorkflow>({
      ...state,
      epoch: state.epoch + 1,
      step: 0,
      partial: undefined,
    });
  }
  phase = 'done';
  return { run, peerId, epochs: config.epochs, history: state.history };
}
