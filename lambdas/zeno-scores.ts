import { performance } from 'node:perf_hooks';
import { batchIndices, gatherBatch, loadDataset, shardRange } from '../lib/data';
import { labelSortedOrder, mapPositions, peerPartition } from '../lib/data/partition';
import { TensorError } from '../lib/errors/tensor-error';
import { logger } from '../lib/log';
import { runKeys } from '../lib/redis/keys';
import { bufferToFloat32 } from '../lib/tensor/float32';
import { peerRedis, runPlan, trainerFor } from './runtime';
import type { ZenoScoresEvent, ZenoScoresResult } from '../lib/protocol/functions';

/**
 * Zeno's scores, where the model runs: the loss of the current parameters and of one SGD step along each
 * candidate, on a validation batch drawn (seeded by epoch and step) from this peer's own training partition.
 */
export async function handler(event: ZenoScoresEvent): Promise<ZenoScoresResult> {
  const t0 = performance.now();
  const keys = runKeys(event.run);
  const plan = await runPlan(event.run);
  const trainer = await trainerFor(plan.model);
  const redis = await peerRedis();
  const [paramsBuf, buffersBuf, ...grads] = await Promise.all([
    redis.getBuffer(keys.params),
    redis.getBuffer(keys.buffers),
    ...event.candidates.map((k) => redis.getBuffer(k)),
  ]);
  if (!paramsBuf) throw new TensorError(`zeno-scores: parameters ${keys.params} are missing`);
  const params = bufferToFloat32(paramsBuf, trainer.layout.size, 'zeno-scores parameters');
  const buffers = bufferToFloat32(buffersBuf ?? Buffer.alloc(0), trainer.bufferLayout.size, 'zeno-scores buffers');
  const dataset = loadDataset(plan.dataset, 'train');
  const total = Math.min(dataset.count, plan.trainLimit ?? dataset.count);
  // The validation batch: a seeded draw from this peer's partition (its first shard's order, another stream).
  const part = peerPartition(total, plan.peers, Math.min(plan.rank, plan.peers - 1));
  const shard = shardRange(total, plan.peers, Math.min(plan.rank, plan.peers - 1), 1, 0);
  const size = Math.min(event.batch, part.end - part.start);
  const steps = Math.max(1, Math.floor((shard.end - shard.start) / size));
  const positions = batchIndices(shard, size, event.step % steps, {
    seed: plan.seed ^ 0x2e40,
    epoch: event.epoch,
    rank: plan.rank,
    shard: 1_000_003,
  });
  const order =
    plan.partition === 'sorted' ? labelSortedOrder(dataset.labels, total, JSON.stringify(plan.dataset)) : null;
  const indices = mapPositions(positions, order);
  const images = new Float32Array(indices.length * dataset.rows * dataset.cols);
  const labels = new Uint8Array(indices.length);
  gatherBatch(dataset, indices, images, labels);
  const loss = async (w: Float32Array) => (await trainer.evaluate(w, buffers, images, labels, indices.length)).loss;
  const baseLoss = await loss(params);
  const losses: number[] = [];
  const scores: number[] = [];
  const stepped = new Float32Array(params.length);
  for (const [i, buf] of grads.entries()) {
    if (!buf) throw new TensorError(`zeno-scores: candidate ${event.candidates[i]} is missing`);
    const g = bufferToFloat32(buf, trainer.layout.size, `zeno-scores candidate ${event.candidates[i]}`);
    let sq = 0;
    for (let k = 0; k < g.length; k++) {
      stepped[k] = params[k] - event.lr * g[k];
      sq += g[k] * g[k];
    }
    const l = await loss(stepped);
    losses.push(l);
    scores.push(baseLoss - l - event.rho * sq);
  }
  const result = { scores, baseLoss, losses, ms: performance.now() - t0 };
  logger.debug({ fn: 'zeno-scores', run: event.run, epoch: event.epoch, step: event.step, ...result }, 'scored');
  return result;
}
