// Reference implementations of the in-database tensor ops, in TypeScript over Float32Arrays.
//
// Two precisions reproduce the two in-database paths bit for bit:
// - 'f32': the native module. Every operation rounds to float32 (Math.fround after each step),
//   summation left to right, division (not multiplication by 1/k) for means.
// - 'f64': the Lua path. Lua numbers are doubles: the whole formula runs in double and only the
//   stored result is rounded to float32.
// They are also the fetch-process-store ("client") path of tensor-ops.ts.

export type Precision = 'f32' | 'f64';

/** A per-coordinate aggregation rule (ARCHITECTURE.md section 7). 2f < n for trimmedMean and meamed. */
export type AggregateRule =
  { kind: 'mean' } | { kind: 'median' } | { kind: 'trimmedMean'; f: number } | { kind: 'meamed'; f: number };

const fr = Math.fround;
const id = (x: number): number => x;

/** out[i] = (srcs[0][i] + ... + srcs[k-1][i]) / k. */
export function averageImpl(srcs: Float32Array[], precision: Precision = 'f32', out?: Float32Array): Float32Array {
  const k = srcs.length;
  const n = srcs[0].length;
  const dst = out ?? new Float32Array(n);
  if (precision === 'f32') {
    // Float32Array stores round every partial sum to float32, exactly like the C kernel.
    const acc = new Float32Array(n);
    acc.set(srcs[0]);
    for (let j = 1; j < k; j++) {
      const s = srcs[j];
      for (let i = 0; i < n; i++) acc[i] = acc[i] + s[i];
    }
    for (let i = 0; i < n; i++) dst[i] = acc[i] / k;
    return dst;
  }
  const acc = new Float64Array(n);
  for (let j = 0; j < k; j++) {
    const s = srcs[j];
    for (let i = 0; i < n; i++) acc[i] += s[i];
  }
  for (let i = 0; i < n; i++) dst[i] = acc[i] / k;
  return dst;
}

export interface SgdHyper {
  lr: number;
  /** Momentum factor; used when a buffer is given. @default 0 */
  momentum?: number;
  /** @default 0 (the term is skipped) */
  weightDecay?: number;
  /** @default false */
  nesterov?: boolean;
}

/**
 * In-place SGD (PyTorch semantics, dampening 0):
 * `d = g + wd*p; b = first ? d : m*b + d; d = nesterov ? d + m*b : b; p = p - lr*d`.
 * `buf === null` means no momentum; `initBuf` is the first step (buffer absent).
 */
export function sgdImpl(
  params: Float32Array,
  grad: Float32Array,
  buf: Float32Array | null,
  hp: SgdHyper,
  initBuf: boolean,
  precision: Precision = 'f32',
): void {
  const r = precision === 'f32' ? fr : id;
  // Hyperparameters are float32 inside the module; Lua keeps the doubles it was given.
  const lr = r(hp.lr);
  const mu = r(hp.momentum ?? 0);
  const wd = r(hp.weightDecay ?? 0);
  const nesterov = hp.nesterov ?? false;
  for (let i = 0; i < params.length; i++) {
    let d = grad[i];
    if (wd !== 0) d = r(d + r(wd * params[i]));
    if (buf) {
      const b = initBuf ? d : r(r(mu * buf[i]) + d);
      buf[i] = b;
      d = nesterov ? r(d + r(mu * b)) : b;
    }
    params[i] = r(params[i] - r(lr * d));
  }
}

function medianOfSorted(v: number[], r: (x: number) => number): number {
  const k = v.length;
  if (k % 2 === 1) return v[(k - 1) / 2];
  return r(r(v[k / 2 - 1] + v[k / 2]) * 0.5);
}

function meanOf(v: number[], from: number, count: number, r: (x: number) => number): number {
  let s = v[from];
  for (let i = from + 1; i < from + count; i++) s = r(s + v[i]);
  return r(s / count);
}

/** One coordinate of a rule; `v` is sorted in place. */
export function aggregateOne(v: number[], rule: AggregateRule, precision: Precision = 'f32'): number {
  const r = precision === 'f32' ? fr : id;
  const k = v.length;
  if (rule.kind === 'mean') return meanOf(v, 0, k, r);
  v.sort((a, b) => a - b);
  if (rule.kind === 'median') return medianOfSorted(v, r);
  if (rule.kind === 'trimmedMean') return meanOf(v, rule.f, k - 2 * rule.f, r);
  // MeaMed: grow a window from the middle of the sorted values, taking the neighbour closer to the
  // median each step; ties take the lower value.
  const m = medianOfSorted(v, r);
  const want = k - rule.f;
  let lo = Math.floor((k - 1) / 2);
  let hi = lo + 1;
  let first = lo + 1;
  let loOpen = true;
  for (let taken = 0; taken < want; taken++) {
    const takeLow = !loOpen ? false : hi >= k ? true : r(m - v[lo]) <= r(v[hi] - m);
    if (takeLow) {
      first = lo;
      if (lo === 0) loOpen = false;
      else lo--;
    } else {
      hi++;
    }
  }
  return meanOf(v, first, want, r);
}

/** Per-coordinate aggregate of equally long sources. */
export function aggregateImpl(srcs: Float32Array[], rule: AggregateRule, precision: Precision = 'f32'): Float32Array {
  const k = srcs.length;
  const n = srcs[0].length;
  if (rule.kind === 'mean') return averageImpl(srcs, precision);
  const out = new Float32Array(n);
  const scratch = new Array<number>(k);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < k; j++) scratch[j] = srcs[j][i];
    out[i] = aggregateOne(scratch, rule, precision);
  }
  return out;
}
