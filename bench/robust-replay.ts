// An exact single-process replay of the distributed schedule with a robust rule and Byzantine peers: per
// step every peer's shards compute their batches (the functions' shardRange / batchIndices), each peer
// averages them (as SPIRT.AVERAGE), a Byzantine peer alters its average (lib/attacks, the same code and seed
// as the worker), every peer aggregates the same inputs with the same rule (the TypeScript references of the
// database kernels), and SGD with momentum updates the one model all peers share. With Zeno each peer
// scores on its own validation batch, so each peer keeps its own model.
import { attackGradient, type AttackSpec } from '../lib/attacks/attacks';
import { decideOnGram, wantsAnchor } from '../lib/aggregation/decide';
import { gramOf, weightedSum } from '../lib/aggregation/gram';
import { aggregateImpl, averageImpl, sgdImpl } from '../lib/aggregation/reference';
import { aggregationPlan } from '../lib/aggregation/rule';
import { zenoWeights } from '../lib/aggregation/zeno';
import type { RunConfig } from '../lib/config/schema';
import { batchIndices, gatherBatch, loadDataset, shardRange, stepsPerEpoch } from '../lib/data';
import { labelSortedOrder, mapPositions, zenoValidationPositions } from '../lib/data/partition';
import { createTrainer } from '../lib/engine';
import { zenoScoresOf } from '../lib/engine/zeno';
import { ConfigError } from '../lib/errors/config-error';

export interface ReplayOutcome {
  params: Float32Array;
  /** Batch-norm buffers (the peers' mean), empty for models without any. */
  buffers: Float32Array;
  /** Test accuracy after each epoch. */
  curve: number[];
  /** Time spent aggregating (the rule, in this process), per step on average. */
  aggregationMs: number;
}

/**
 * Aggregates `inputs` with the run's rule as the database does (references of the kernels; the decision on
 * the Gram matrix is the database path's own). `anchor` is centered clipping's start point before scaling
 * (the momentum buffer); Zeno needs `zenoScores`.
 */
export function aggregateReference(
  config: RunConfig,
  inputs: Float32Array[],
  opts: { anchor?: Float32Array; zenoScores?: number[] } = {},
): Float32Array {
  const n = inputs.length;
  const { plan, f } = aggregationPlan(config, n);
  if (plan.kind === 'zeno') {
    if (!opts.zenoScores) throw new ConfigError("replay: zeno needs the candidates' scores");
    return weightedSum(inputs, zenoWeights(opts.zenoScores, plan.b));
  }
  if (plan.kind === 'coordinate' && config.preAggregation.length === 0) return aggregateImpl(inputs, plan.rule, 'f32');
  const vectors = wantsAnchor(plan) && opts.anchor ? [...inputs, opts.anchor] : inputs;
  const decision = decideOnGram(config, plan, f, gramOf(vectors), vectors.length > n ? 1 - config.momentum : null);
  if (decision.kind === 'weighted') return weightedSum(vectors, decision.weights);
  const { chosen, mix } = decision;
  return aggregateImpl(
    chosen.map((i) => (mix === null ? inputs[i] : weightedSum(inputs, mix[i]))),
    decision.rule,
    'f32',
  );
}

/** One model: what every peer holds, or (Zeno) one peer's own. */
interface ModelState {
  params: Float32Array;
  momentum: Float32Array;
  buffers: Float32Array;
  first: boolean;
}

/**
 * Replays `config` (its `peers` peers, rank order p1..pN) with the attacks of `config.byzantine`; the test
 * accuracy (of p1's model) is measured after each epoch unless `evaluate` is false. With Zeno each peer scores
 * the candidates on its own validation batch, so each peer keeps its own model (as on the real stack).
 * @throws ConfigError for a Byzantine peer that is not one of the run's peers
 */
export async function robustReplay(config: RunConfig, opts: { evaluate?: boolean } = {}): Promise<ReplayOutcome> {
  const ids = Array.from({ length: config.peers }, (_, r) => `p${r + 1}`);
  const attacks = new Map<number, AttackSpec>();
  for (const b of config.byzantine) {
    const rank = ids.indexOf(b.peer);
    if (rank < 0) throw new ConfigError(`replay: Byzantine peer ${b.peer} is not one of ${ids.join(', ')}`);
    const { peer: _peer, ...spec } = b;
    attacks.set(rank, spec);
  }
  const trainer = await createTrainer(config.model);
  const zeno = config.aggregation === 'zeno';
  const init = trainer.initParams(config.seed);
  const models: ModelState[] = Array.from({ length: zeno ? config.peers : 1 }, () => ({
    params: Float32Array.from(init),
    momentum: new Float32Array(init.length),
    buffers: trainer.initBuffers(),
    first: true,
  }));
  const modelOf = (rank: number) => models[zeno ? rank : 0];
  const train = loadDataset('mnist', 'train');
  const test = loadDataset('mnist', 'test');
  const total = Math.min(train.count, config.trainLimit ?? train.count);
  const order = config.partition === 'sorted' ? labelSortedOrder(train.labels, total, JSON.stringify('mnist')) : null;
  const steps = stepsPerEpoch(total, config.peers, config.shardsPerPeer, config.batchSize, config.maxStepsPerEpoch);
  const images = new Float32Array(config.batchSize * 784);
  const labels = new Uint8Array(config.batchSize);
  const curve: number[] = [];
  let aggregationMs = 0;
  for (let epoch = 1; epoch <= config.epochs; epoch++) {
    for (let step = 0; step < steps; step++) {
      const peerGrads: Float32Array[] = [];
      const peerBuffers: Float32Array[] = [];
      for (let rank = 0; rank < config.peers; rank++) {
        const model = modelOf(rank);
        const grads: Float32Array[] = [];
        const shardBuffers: Float32Array[] = [];
        for (let shard = 0; shard < config.shardsPerPeer; shard++) {
          const range = shardRange(total, config.peers, rank, config.shardsPerPeer, shard);
          const positions = batchIndices(range, config.batchSize, step, { seed: config.seed, epoch, rank, shard });
          const indices = mapPositions(positions, order);
          gatherBatch(train, indices, images, labels);
          const spec = attacks.get(rank);
          if (spec?.attack === 'labelflip') for (let i = 0; i < indices.length; i++) labels[i] = 9 - labels[i];
          const out = await trainer.trainStep(model.params, model.buffers, images, labels, indices.length);
          grads.push(Float32Array.from(out.grad));
          shardBuffers.push(Float32Array.from(out.buffers));
        }
        let avg = averageImpl(grads, 'f32');
        const spec = attacks.get(rank);
        if (spec && spec.attack !== 'labelflip')
          avg = attackGradient(spec, avg, grads, {
            n: config.peers,
            f: 1,
            seed: (config.seed * 1_000_003 + epoch * 10_007 + step) >>> 0,
          });
        peerGrads.push(avg);
        if (model.buffers.length > 0) peerBuffers.push(averageImpl(shardBuffers, 'f32'));
      }
      for (const [rank, model] of models.entries()) {
        const t = process.hrtime.bigint();
        const scores = zeno
          ? (await zenoScoresFor(trainer, config, model, rank, total, order, train, epoch, step, peerGrads)).scores
          : undefined;
        const agg = aggregateReference(config, peerGrads, { anchor: model.momentum, zenoScores: scores });
        if (rank === 0) aggregationMs += Number(process.hrtime.bigint() - t) / 1e6;
        sgdImpl(
          model.params,
          agg,
          model.momentum,
          { lr: config.learningRate, momentum: config.momentum, weightDecay: config.weightDecay },
          model.first,
        );
        model.first = false;
        if (model.buffers.length > 0) model.buffers = averageImpl(peerBuffers, 'f32');
      }
    }
    if (opts.evaluate !== false)
      curve.push(await accuracy(trainer, models[0].params, models[0].buffers, test, config.testLimit ?? 2000));
  }
  return {
    params: models[0].params,
    buffers: models[0].buffers,
    curve,
    aggregationMs: aggregationMs / (config.epochs * steps),
  };
}

/** Zeno's scores of the step's candidates by the peer of this rank (its validation batch, as the function). */
async function zenoScoresFor(
  trainer: Awaited<ReturnType<typeof createTrainer>>,
  config: RunConfig,
  model: ModelState,
  rank: number,
  total: number,
  order: Int32Array | null,
  train: ReturnType<typeof loadDataset>,
  epoch: number,
  step: number,
  candidates: Float32Array[],
) {
  const positions = zenoValidationPositions(total, config.peers, rank, config.zenoBatch, {
    seed: config.seed,
    epoch,
    step,
  });
  const indices = mapPositions(positions, order);
  const images = new Float32Array(indices.length * 784);
  const labels = new Uint8Array(indices.length);
  gatherBatch(train, indices, images, labels);
  return zenoScoresOf(
    trainer,
    model.params,
    model.buffers,
    { images, labels, count: indices.length },
    candidates,
    config.learningRate,
    config.zenoRho,
  );
}

async function accuracy(
  trainer: Awaited<ReturnType<typeof createTrainer>>,
  params: Float32Array,
  buffers: Float32Array,
  test: ReturnType<typeof loadDataset>,
  limit: number,
): Promise<number> {
  const total = Math.min(test.count, limit);
  const chunk = 1000;
  const images = new Float32Array(chunk * 784);
  const labels = new Uint8Array(chunk);
  let correct = 0;
  for (let start = 0; start < total; start += chunk) {
    const n = Math.min(chunk, total - start);
    gatherBatch(
      test,
      Array.from({ length: n }, (_, i) => start + i),
      images,
      labels,
    );
    correct += (await trainer.evaluate(params, buffers, images, labels, n)).correct;
  }
  return correct / total;
}
