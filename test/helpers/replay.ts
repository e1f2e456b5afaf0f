// A single-process replay of the distributed schedule, to check the peers' parameters against.
import type { parseRunConfig } from '../../lib/config';
import { batchIndices, gatherBatch, loadDataset, shardRange, stepsPerEpoch } from '../../lib/data';
import { createTrainer } from '../../lib/engine';

/**
 * Replays a failure-free run in one process: per step, shard gradients -> per-peer mean -> mean of peers -> SGD. */
export async function referenceTraining(
  config: ReturnType<typeof parseRunConfig>,
): Promise<{ params: Float32Array; buffers: Float32Array }> {
  const trainer = await createTrainer(config.model);
  const params = trainer.initParams(config.seed);
  let buffers = trainer.initBuffers();
  const velocity = new Float32Array(params.length);
  const dataset = loadDataset('mnist', 'train');
  const total = config.trainLimit as number;
  const steps = stepsPerEpoch(total, config.peers, config.shardsPerPeer, config.batchSize, config.maxStepsPerEpoch);
  const images = new Float32Array(config.batchSize * 784);
  const labels = new Uint8Array(config.batchSize);
  const meanOf = (vectors: Float32Array[]) => {
    const sum = new Float64Array(vectors[0].length);
    for (const v of vectors) for (let i = 0; i < sum.length; i++) sum[i] += v[i];
    return Float32Array.from(sum, (x) => x / vectors.length);
  };
  for (let epoch = 1; epoch <= config.epochs; epoch++) {
    for (let step = 0; step < steps; step++) {
      const peerGrads: Float32Array[] = [];
      const peerBuffers: Float32Array[] = [];
      for (let rank = 0; rank < config.peers; rank++) {
        const grads: Float32Array[] = [];
        const shardBuffers: Float32Array[] = [];
        for (let shard = 0; shard < config.shardsPerPeer; shard++) {
          const range = shardRange(total, config.peers, rank, config.shardsPerPeer, shard);
          const indices = batchIndices(range, config.batchSize, step, { seed: config.seed, epoch, rank, shard });
          gatherBatch(dataset, indices, images, labels);
          const out = await trainer.trainStep(params, buffers, images, labels, indices.length);
          grads.push(Float32Array.from(out.grad));
          shardBuffers.push(Float32Array.from(out.buffers));
        }
        peerGrads.push(meanOf(grads));
        if (buffers.length > 0) peerBuffers.push(meanOf(shardBuffers));
      }
      const mean = meanOf(peerGrads);
      for (let i = 0; i < params.length; i++) {
        velocity[i] = config.momentum * velocity[i] + mean[i];
        params[i] -= config.learningRate * velocity[i];
      }
      if (buffers.length > 0) buffers = meanOf(peerBuffers);
    }
  }
  return { params, buffers };
}

/** Largest |a - b| beyond a tolerance of 1e-5 + 1e-4 |b| (0 when everything is within it). */
export function excess(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) - (1e-5 + 1e-4 * Math.abs(b[i])));
  return worst;
}
