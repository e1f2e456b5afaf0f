import type { Trainer } from './trainer';

export interface ZenoScores {
  scores: number[];
  baseLoss: number;
  losses: number[];
}

/**
 * Zeno's scores (Xie et al. 2019) of `candidates` on one validation batch: L(w) - L(w - lr g_i) - rho ||g_i||^2,
 * with L the model's mean loss on the batch. n + 1 forward passes. Used by the `zeno-scores` function and by
 * the single-process replay.
 */
export async function zenoScoresOf(
  trainer: Trainer,
  params: Float32Array,
  buffers: Float32Array,
  batch: { images: Float32Array; labels: Uint8Array; count: number },
  candidates: readonly Float32Array[],
  lr: number,
  rho: number,
): Promise<ZenoScores> {
  const loss = async (w: Float32Array) =>
    (await trainer.evaluate(w, buffers, batch.images, batch.labels, batch.count)).loss;
  const baseLoss = await loss(params);
  const losses: number[] = [];
  const scores: number[] = [];
  const stepped = new Float32Array(params.length);
  for (const g of candidates) {
    let sq = 0;
    for (let k = 0; k < g.length; k++) {
      stepped[k] = params[k] - lr * g[k];
      sq += g[k] * g[k];
    }
    const l = await loss(stepped);
    losses.push(l);
    scores.push(baseLoss - l - rho * sq);
  }
  return { scores, baseLoss, losses };
}
