// An exact single-process replay of the distributed schedule with a robust rule and Byzantine peers: per
// step every peer's shards compute their batches (the functions' shardRange / batchIndices), each peer
// averages them (as SPIRT.AVERAGE), a Byzantine peer alters its average (lib/attacks, the same code and seed
// as the worker), every peer aggregates the same inputs with the same rule (the TypeScript references of the
// database kernels), and SGD with momentum updates the one model all peers share. Zeno is not replayed:
// each peer scores on its own validation batch, so the peers' models differ (it runs on the real stack).
import { attackGradient, type AttackSpec } from '../lib/attacks/attacks';
import { bulyanSelect } from '../lib/aggregation/bulyan';
import { composeWeights, gramOf, transformGram, weightedSum } from '../lib/aggregation/gram';
import { aggregateImpl, averageImpl, sgdImpl } from '../lib/aggregation/reference';
import { aggregationPlan, preAggregators } from '../lib/aggregation/rule';
import type { RunConfig } from '../lib/config/schema';
import { batchIndices, gatherBatch, loadDataset, shardRange, stepsPerEpoch } from '../lib/data';
import { labelSortedOrder, mapPositions } from '../lib/data/partition';
import { createTrainer } from '../lib/engine';
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

/** Aggregates `inputs` with the run's rule as the database does (references of the kernels). */
export function aggregateReference(config: RunConfig, inputs: Float32Array[]): Float32Array {
  const n = inputs.length;
  const { plan, f } = aggregationPlan(config, n);
  const pre = preAggregators(config, n, f);
  if (plan.kind === 'zeno') throw new ConfigError('replay: Zeno is not replayed (each peer scores on its own batch)');
  if (plan.kind === 'coordinate' && pre.length === 0) return aggregateImpl(inputs, plan.rule, 'f32');
  const gram = gramOf(inputs);
  let mix: number[][] = gram.map((_, i) => gram.map((__, j) => (i === j ? 1 : 0)));
  for (const p of pre) {
    p.check(n);
    mix = p.mix(transformGram(gram, mix)).map((row) => composeWeights(row, mix));
  }
  const mixed = transformGram(gram, mix);
  if (plan.kind === 'vector') {
    plan.rule.check(n);
    return weightedSum(inputs, composeWeights(plan.rule.weights(mixed), mix));
  }
  const chosen = plan.kind === 'bulyan' ? bulyanSelect(mixed, plan.f).selected : mixed.map((_, i) => i);
  const rule = plan.kind === 'bulyan' ? { kind: 'meamed' as const, f: 2 * plan.f } : plan.rule;
  const materialised = chosen.map((i) => (pre.length === 0 ? inputs[i] : weightedSum(inputs, mix[i])));
  return aggregateImpl(materialised, rule, 'f32');
}

/**
 * Replays `config` (its `peers` peers, rank order p1..pN) with the attacks of `config.byzantine`; the test
 * accuracy is measured after each epoch unless `evaluate` is false.
 * @throws ConfigError for Zeno, or a Byzantine peer that is not one of the run's peers
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
  const params = trainer.initParams(config.seed);
  let buffers = trainer.initBuffers();
  const momentum = new Float32Array(params.length);
  const train = loadDataset('mnist', 'train');
  const test = loadDataset('mnist', 'test');
  const total = Math.min(train.count, config.trainLimit ?? train.count);
  const order = config.partition === 'sorted' ? labelSortedOrder(train.labels, total, JSON.stringify('mnist')) : null;
  const steps = stepsPerEpoch(total, config.peers, config.shardsPerPeer, config.batchSize, config.maxStepsPerEpoch);
  const images = new Float32Array(config.batchSize * 784);
  const labels = new Uint8Array(config.batchSize);
  const curve: number[] = [];
  let aggregationMs = 0;
  let first = true;
  for (let epoch = 1; epoch <= config.epochs; epoch++) {
    for (let step = 0; step < steps; step++) {
      const peerGrads: Float32Array[] = [];
      const peerBuffers: Float32Array[] = [];
      for (let rank = 0; rank < config.peers; rank++) {
        const grads: Float32Array[] = [];
        const shardBuffers: Float32Array[] = [];
        for (let shard = 0; shard < config.shardsPerPeer; shard++) {
          const range = shardRange(total, config.peers, rank, config.shardsPerPeer, shard);
          const positions = batchIndices(range, config.batchSize, step, { seed: config.seed, epoch, rank, shard });
          const indices = mapPositions(positions, order);
          gatherBatch(train, indices, images, labels);
          const spec = attacks.get(rank);
          if (spec?.attack === 'labelflip') for (let i = 0; i < indices.length; i++) labels[i] = 9 - labels[i];
          const out = await trainer.trainStep(params, buffers, images, labels, indices.length);
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
        if (buffers.length > 0) peerBuffers.push(averageImpl(shardBuffers, 'f32'));
      }
      const t = process.hrtime.bigint();
      const agg = aggregateReference(config, peerGrads);
      aggregationMs += Number(process.hrtime.bigint() - t) / 1e6;
      sgdImpl(
        params,
        agg,
        momentum,
        { lr: config.learningRate, momentum: config.momentum, weightDecay: config.weightDecay },
        first,
      );
      first = false;
      if (buffers.length > 0) buffers = averageImpl(peerBuffers, 'f32');
    }
    if (opts.evaluate !== false) curve.push(await accuracy(trainer, params, buffers, test, config.testLimit ?? 2000));
  }
  return { params, buffers, curve, aggregationMs: aggregationMs / (config.epochs * steps) };
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
