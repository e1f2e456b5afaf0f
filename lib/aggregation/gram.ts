// Distance-based robust aggregation decides on the n x n Gram matrix of the input gradients, never on the
// gradients themselves: G[i][j] = <g_i, g_j>. Every vector the rules handle (an estimate, a clipped
// difference, a mixed input) is a linear combination of the inputs, kept as its weights w (length n), so
// that ||sum_i w_i g_i||^2 = w^T G w. A database computes G and the final weighted sum; the decision in
// between costs O(n^2) to O(n^3) numbers, whatever the model size.
import { ConfigError } from '../errors/config-error';

export type Gram = readonly (readonly number[])[];

/** Gram matrix of Float32 vectors (reference, in double precision). */
export function gramOf(vectors: readonly Float32Array[]): number[][] {
  const n = vectors.length;
  const g = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++)
    for (let j = i; j < n; j++) {
      let s = 0;
      const a = vectors[i];
      const b = vectors[j];
      for (let k = 0; k < a.length; k++) s += a[k] * b[k];
      g[i][j] = s;
      g[j][i] = s;
    }
  return g;
}

/** sum_i w_i v_i (reference, in double precision, stored as float32). */
export function weightedSum(vectors: readonly Float32Array[], weights: readonly number[]): Float32Array {
  const out = new Float64Array(vectors[0].length);
  vectors.forEach((v, i) => {
    const w = weights[i];
    if (w !== 0) for (let k = 0; k < v.length; k++) out[k] += w * v[k];
  });
  return Float32Array.from(out);
}

/** (G w)_i for every i. */
export function gramTimes(g: Gram, w: readonly number[]): number[] {
  return g.map((row) => row.reduce((s, x, j) => s + x * w[j], 0));
}

/** ||g_i - g_j||^2, clamped at 0 (rounding). */
export function squaredDistance(g: Gram, i: number, j: number): number {
  return Math.max(0, g[i][i] + g[j][j] - 2 * g[i][j]);
}

/** ||g_i - sum_k w_k g_k||^2 for every i, clamped at 0. */
export function squaredDistancesTo(g: Gram, w: readonly number[]): number[] {
  const gw = gramTimes(g, w);
  const ww = w.reduce((s, x, i) => s + x * gw[i], 0);
  return g.map((row, i) => Math.max(0, row[i] - 2 * gw[i] + ww));
}

/**
 * Inputs transformed by a linear map M (row k: the weights of new input k over the old inputs): the Gram
 * matrix of the new inputs, M G M^T.
 */
export function transformGram(g: Gram, m: readonly (readonly number[])[]): number[][] {
  const gm = m.map((row) => gramTimes(g, row));
  return m.map((a) => gm.map((gb) => a.reduce((s, x, i) => s + x * gb[i], 0)));
}

/** Weights over the original inputs of weights `w` over inputs transformed by M: w^T M. */
export function composeWeights(w: readonly number[], m: readonly (readonly number[])[]): number[] {
  const n = m[0]?.length ?? 0;
  const out = new Array<number>(n).fill(0);
  w.forEach((wk, k) => m[k].forEach((x, i) => (out[i] += wk * x)));
  return out;
}

/** @throws ConfigError when G is not a square, symmetric matrix of finite numbers. */
export function checkGram(g: Gram): void {
  const n = g.length;
  if (n === 0) throw new ConfigError('aggregation: no input');
  for (let i = 0; i < n; i++) {
    if (g[i].length !== n)
      throw new ConfigError(`aggregation: Gram matrix row ${i} has ${g[i].length} entries, not ${n}`);
    for (let j = 0; j < n; j++)
      if (!Number.isFinite(g[i][j])) throw new ConfigError(`aggregation: input ${i} or ${j} is not finite (NaN/Inf)`);
  }
}
