import { performance } from 'node:perf_hooks';
import { gatherBatch, loadDataset } from '../lib/data';
import { labelSortedOrder, mapPositions, zenoValidationPositions } from '../lib/data/partition';
import { zenoScoresOf } from '../lib/engine/zeno';
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
  const rank = Math.min(plan.rank, plan.peers - 1);
  const positions = zenoValidationPositions(total, plan.peers, rank, event.batch, {
    seed: plan.seed,
    epoch: event.epoch,
    step: event.step,
  });
  const order =
    plan.partition === 'sorted' ? labelSortedOrder(dataset.labels, total, JSON.stringify(plan.dataset)) : null;
  const indices = mapPositions(positions, order);
  const images = new Float32Array(indices.length * dataset.rows * dataset.cols);
  const labels = new Uint8Array(indices.length);
  gatherBatch(dataset, indices, images, labels);
  const candidates = grads.map((buf, i) => {
    if (!buf) throw new TensorError(`zeno-scores: candidate ${event.candidates[i]} is missing`);
    return bufferToFloat32(buf, trainer.layout.size, `zeno-scores candidate ${event.candidates[i]}`);
  });
  const { scores, baseLoss, losses } = await zenoScoresOf(
    trainer,
    params,
    buffers,
    { images, labels, count: indices.length },
    candidates,
    event.lr,
    event.rho,
  );
  const result = { scores, baseLoss, losses, ms: performance.now() - t0 };
  logger.debug({ fn: 'zeno-scores', run: event.run, epoch: event.epoch, step: event.step, ...result }, 'scored');
  return result;
}
