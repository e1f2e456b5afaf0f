import { performance } from 'node:perf_hooks';
import { batchIndices, gatherBatch, loadDataset, shardRange } from '../lib/data';
import { labelSortedOrder, mapPositions } from '../lib/data/partition';
import { InjectedFault } from '../lib/errors/injected-fault';
import { flipLabels } from '../lib/attacks/attacks';
import { TensorError } from '../lib/errors/tensor-error';
import { logger } from '../lib/log';
import { runKeys } from '../lib/redis/keys';
import { bufferToFloat32, firstNonFinite, float32ToBuffer } from '../lib/tensor/float32';
import { peerRedis, runPlan, trainerFor } from './runtime';
import type { ComputeGradientEvent, ComputeGradientResult } from '../lib/protocol/functions';

/**
 * Computes the gradient of one batch of one shard with the peer's current parameters and stores it
 * in the peer's Redis (with a TTL). The gradient and updated buffers are written in one MULTI, and
 * only when finite: a failed call never leaves a partial gradient.
 */
export async function handler(event: ComputeGradientEvent): Promise<ComputeGradientResult> {
  const t0 = performance.now();
  const keys = runKeys(event.run);
  const plan = await runPlan(event.run);
  const trainer = await trainerFor(plan.model);
  const redis = await peerRedis();
  const [paramsBuf, buffersBuf, chaos] = await redis
    .pipeline()
    .getBuffer(keys.params)
    .getBuffer(keys.buffers)
    .getdelBuffer(keys.chaosFailOnce(event.epoch, event.step, event.shard))
    .exec()
    .then((replies) =>
      (replies ?? []).map(([err, value]) => {
        if (err) throw err;
        return value as Buffer | null;
      }),
    );
  // Fault injection for tests and drills: an operator-set key makes this one call fail, once.
  if (chaos) throw new InjectedFault(`compute-gradient: injected failure (${chaos.toString()})`);
  if (!paramsBuf)
    throw new TensorError(`compute-gradient: parameters ${keys.params} are missing (model not initialised?)`);
  const params = bufferToFloat32(paramsBuf, trainer.layout.size, 'compute-gradient parameters');
  const buffers = bufferToFloat32(buffersBuf ?? Buffer.alloc(0), trainer.bufferLayout.size, 'compute-gradient buffers');

  const dataset = loadDataset(plan.dataset, 'train');
  const total = Math.min(dataset.count, plan.trainLimit ?? dataset.count);
  // Own shard at this step, unless the call names another batch (a taken-over unit or a catch-up batch).
  const batch = event.batch ?? { rank: plan.rank, shard: event.shard, epoch: event.epoch, step: event.step };
  const shard = shardRange(total, plan.peers, batch.rank, plan.shardsPerPeer, batch.shard);
  const indices = batchIndices(shard, plan.batchSize, batch.step, {
    seed: plan.seed,
    epoch: batch.epoch,
    rank: batch.rank,
    shard: batch.shard,
  });
  // Non-IID: partition positions index the samples ordered by label.
  const order =
    plan.partition === 'sorted' ? labelSortedOrder(dataset.labels, total, JSON.stringify(plan.dataset)) : null;
  const sampleIndices = mapPositions(indices, order);
  const n = sampleIndices.length;
  const images = new Float32Array(n * dataset.rows * dataset.cols);
  const labels = new Uint8Array(n);
  gatherBatch(dataset, sampleIndices, images, labels);
  // Experiments only: a Byzantine peer with the label-flipping attack trains on flipped labels.
  if (plan.attack?.attack === 'labelflip') flipLabels(labels);
  const t1 = performance.now();

  const result = await trainer.trainStep(params, buffers, images, labels, n);
  const t2 = performance.now();
  const bad = firstNonFinite(result.grad);
  if (bad >= 0 || !Number.isFinite(result.loss)) {
    throw new TensorError(
      `compute-gradient: non-finite gradient or loss (loss ${result.loss}, first bad index ${bad})`,
    );
  }

  const gradientKey = keys.shardGradient(event.epoch, event.step, event.shard, plan.peer ?? 'self');
  const tx = redis.multi().set(gradientKey, float32ToBuffer(result.grad), 'EX', plan.ttlSeconds);
  if (trainer.bufferLayout.size > 0) {
    tx.set(
      keys.shardBuffers(event.epoch, event.step, event.shard, plan.peer ?? 'self'),
      float32ToBuffer(result.buffers),
      'EX',
      plan.ttlSeconds,
    );
  }
  await tx.exec();
  const t3 = performance.now();
  const timings = { readMs: t1 - t0, computeMs: t2 - t1, writeMs: t3 - t2, totalMs: t3 - t0 };
  logger.debug(
    {
      fn: 'compute-gradient',
      run: event.run,
      epoch: event.epoch,
      step: event.step,
      shard: event.shard,
      batch,
      loss: result.loss,
      n,
      ...timings,
    },
    'gradient written',
  );
  return { loss: result.loss, count: n, gradientKey, timings };
}
