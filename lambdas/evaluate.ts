import { performance } from 'node:perf_hooks';
import { gatherBatch, loadDataset } from '../lib/data';
import { TensorError } from '../lib/errors/tensor-error';
import { logger } from '../lib/log';
import { runKeys } from '../lib/redis/keys';
import { bufferToFloat32 } from '../lib/tensor/float32';
import { peerRedis, runPlan, trainerFor } from './runtime';
import type { EvaluateEvent, EvaluateResult } from '../lib/protocol/functions';

/** Loss and accuracy of the peer's current parameters on the held-out split. */
export async function handler(event: EvaluateEvent): Promise<EvaluateResult> {
  const t0 = performance.now();
  const keys = runKeys(event.run);
  const plan = await runPlan(event.run);
  const trainer = await trainerFor(plan.model);
  const redis = await peerRedis();
  const [paramsBuf, buffersBuf] = await Promise.all([redis.getBuffer(keys.params), redis.getBuffer(keys.buffers)]);
  if (!paramsBuf) throw new TensorError(`evaluate: parameters ${keys.params} are missing`);
  const params = bufferToFloat32(paramsBuf, trainer.layout.size, 'evaluate parameters');
  const buffers = bufferToFloat32(buffersBuf ?? Buffer.alloc(0), trainer.bufferLayout.size, 'evaluate buffers');
  const dataset = loadDataset(plan.dataset, 'test');
  const total = Math.min(dataset.count, plan.testLimit ?? dataset.count);
  // Large models keep activations of the whole chunk in memory: evaluate them in smaller chunks.
  const chunk = event.chunk ?? (trainer.layout.size > 1_000_000 ? 250 : 1000);
  const images = new Float32Array(chunk * dataset.rows * dataset.cols);
  const labels = new Uint8Array(chunk);
  let lossSum = 0;
  let correct = 0;
  for (let start = 0; start < total; start += chunk) {
    const n = Math.min(chunk, total - start);
    const indices = Array.from({ length: n }, (_, i) => start + i);
    gatherBatch(dataset, indices, images, labels);
    const r = await trainer.evaluate(params, buffers, images, labels, n);
    lossSum += r.loss * r.count;
    correct += r.correct;
  }
  const result = { loss: lossSum / total, accuracy: correct / total, count: total, ms: performance.now() - t0 };
  logger.debug({ fn: 'evaluate', run: event.run, ...result }, 'evaluated');
  return result;
}
