/**
 * Replays the distributed training schedule in one process: every step, each peer's shards compute
 * their batch (the same shardRange / batchIndices as the compute-gradient function), gradients are
 * averaged per peer then across peers, and SGD with momentum updates one model. Prints the test
 * accuracy after each epoch for each seed: how hyperparameters of the demo were chosen.
 *
 *   node dist/bench/replay-schedule.js [--model lenet5] [--peers 4] [--shards 2] [--batch 64] [--lr 0.02]
 *     [--momentum 0.9] [--epochs 3] [--seeds 42,1,2] [--json]
 */
import { parseArgs } from 'node:util';
import { batchIndices, gatherBatch, loadDataset, shardRange, stepsPerEpoch } from '../lib/data';
import { createTrainer } from '../lib/engine';

export interface ReplayResult {
  model: string;
  peers: number;
  shards: number;
  batch: number;
  lr: number;
  momentum: number;
  seed: number;
  testAccuracy: number[];
}

export async function replaySchedule(
  o: Omit<ReplayResult, 'testAccuracy'> & { epochs: number },
): Promise<ReplayResult> {
  const trainer = await createTrainer(o.model);
  const train = loadDataset('mnist', 'train');
  const test = loadDataset('mnist', 'test');
  const params = trainer.initParams(o.seed);
  let buffers = trainer.initBuffers();
  const velocity = new Float32Array(params.length);
  const sum = new Float64Array(params.length);
  const images = new Float32Array(o.batch * 784);
  const labels = new Uint8Array(o.batch);
  const steps = stepsPerEpoch(train.count, o.peers, o.shards, o.batch);
  const testImages = new Float32Array(1000 * 784);
  const testLabels = new Uint8Array(1000);
  const testAccuracy: number[] = [];
  for (let epoch = 1; epoch <= o.epochs; epoch++) {
    for (let step = 0; step < steps; step++) {
      sum.fill(0);
      const nextBuffers = new Float64Array(buffers.length);
      for (let rank = 0; rank < o.peers; rank++) {
        for (let shard = 0; shard < o.shards; shard++) {
          const range = shardRange(train.count, o.peers, rank, o.shards, shard);
          const indices = batchIndices(range, o.batch, step, { seed: o.seed, epoch, rank, shard });
          gatherBatch(train, indices, images, labels);
          const out = await trainer.trainStep(params, buffers, images, labels, indices.length);
          for (let i = 0; i < sum.length; i++) sum[i] += out.grad[i];
          for (let i = 0; i < nextBuffers.length; i++) nextBuffers[i] += out.buffers[i];
        }
      }
      const calls = o.peers * o.shards;
      for (let i = 0; i < params.length; i++) {
        velocity[i] = o.momentum * velocity[i] + sum[i] / calls;
        params[i] -= o.lr * velocity[i];
      }
      buffers = Float32Array.from(nextBuffers, (v) => v / calls);
    }
    let correct = 0;
    for (let start = 0; start < test.count; start += 1000) {
      const n = Math.min(1000, test.count - start);
      gatherBatch(
        test,
        Array.from({ length: n }, (_, i) => start + i),
        testImages,
        testLabels,
      );
      correct += (await trainer.evaluate(params, buffers, testImages, testLabels, n)).correct;
    }
    testAccuracy.push(correct / test.count);
  }
  return {
    model: o.model,
    peers: o.peers,
    shards: o.shards,
    batch: o.batch,
    lr: o.lr,
    momentum: o.momentum,
    seed: o.seed,
    testAccuracy,
  };
}

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string', default: 'lenet5' },
      peers: { type: 'string', default: '4' },
      shards: { type: 'string', default: '2' },
      batch: { type: 'string', default: '64' },
      lr: { type: 'string', default: '0.02' },
      momentum: { type: 'string', default: '0.9' },
      epochs: { type: 'string', default: '3' },
      seeds: { type: 'string', default: '42,1,2' },
      json: { type: 'boolean', default: false },
    },
  });
  const results: ReplayResult[] = [];
  for (const seed of values.seeds.split(',').map(Number)) {
    const r = await replaySchedule({
      model: values.model,
      peers: Number(values.peers),
      shards: Number(values.shards),
      batch: Number(values.batch),
      lr: Number(values.lr),
      momentum: Number(values.momentum),
      epochs: Number(values.epochs),
      seed,
    });
    results.push(r);
    if (!values.json) process.stdout.write(`seed ${seed}: ${r.testAccuracy.map((a) => a.toFixed(4)).join(' ')}\n`);
  }
  if (values.json) process.stdout.write(JSON.stringify({ suite: 'replay', results }) + '\n');
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: Error) => {
    process.stderr.write(`replay-schedule: ${err.message}\n`);
    process.exit(1);
  });
}
