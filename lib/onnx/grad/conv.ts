import { UnsupportedOpError } from '../unsupported-op-error';
import { intAttr, windowGeometry, type WindowGeometry } from '../spatial';
import { attr } from '../types';
import type { GraphBuilder } from '../builder';
import { reduceSum, requireDy, shapeOf, spatialDims, type GradContext, type PoolMembers } from './context';

/**
 * output_padding that makes a ConvTranspose with the forward geometry reproduce the forward input size
 * (the rows the forward window never reached get zero gradient).
 */
export function outputPadding(spatial: number[], g: WindowGeometry): number[] {
  const r = spatial.length;
  return spatial.map(
    (h, i) => h - (g.strides[i] * (g.out[i] - 1) + (g.kernel[i] - 1) * g.dilations[i] + 1 - g.pads[i] - g.pads[i + r]),
  );
}

/** dX of a convolution: the transposed convolution of dY with the same weights and geometry. */
function convInputGrad(
  b: GraphBuilder,
  dy: string,
  w: string,
  spatial: number[],
  g: WindowGeometry,
  group: number,
): string {
  return b.op('ConvTranspose', [dy, w], {
    strides: attr.ints(g.strides),
    dilations: attr.ints(g.dilations),
    pads: attr.ints(g.pads),
    group: attr.int(group),
    output_padding: attr.ints(outputPadding(spatial, g)),
  });
}

/**
 * dW for group = 1: a convolution over the batch axis. With batch and channels swapped (X^T: [C, N, H, W],
 * dY^T: [O, N, Ho, Wo]), Conv(X^T, dY^T) with the forward dilation as stride and the forward stride as dilation
 * gives [C, O, kh', kw'] where kh' >= kh; the extra rows (forward windows that never reached them) are sliced off.
 */
function convWeightGradDense(b: GraphBuilder, x: string, dy: string, g: WindowGeometry): string {
  const swap = { perm: attr.ints([1, 0, 2, 3]) };
  // With one input channel (a network's first layer) swapping batch and channels moves no data.
  const xt =
    b.shape(x)[1] === 1
      ? b.op('Reshape', [x, b.constInt64([1, -1, ...spatialDims(b, x)])])
      : b.op('Transpose', [x], swap);
  const dyt = b.op('Transpose', [dy], swap);
  let dw = b.op('Conv', [xt, dyt], {
    strides: attr.ints(g.dilations),
    dilations: attr.ints(g.strides),
    pads: attr.ints(g.pads),
  });
  const got = b.staticShape(dw).slice(2);
  if (got.some((d, i) => d !== g.kernel[i])) {
    dw = b.op('Slice', [dw, b.constInt64([0, 0]), b.constInt64(g.kernel), b.constInt64([2, 3])]);
  }
  return b.op('Transpose', [dw], swap);
}

/**
 * dW for a stride-1, group-1 convolution with many more input than output channels (DenseNet's 128 -> 32
 * 3x3 layers): one Gemm per kernel tap between dY shifted by the tap's offset and the padded input, both with
 * batch and pixels flattened. Shifting dY (the small operand) keeps the extra copies small; the batch-axis
 * convolution would instead re-read dY once per input channel.
 */
function shiftedWeightGradApplies(b: GraphBuilder, w: string, g: WindowGeometry, group: number): boolean {
  const [cout, cin] = b.staticShape(w);
  return group === 1 && g.strides.every((s) => s === 1) && g.kernel.some((k) => k > 1) && cin >= 4 * cout;
}

function shiftedWeightGrad(
  b: GraphBuilder,
  x: string,
  dy: string,
  w: string,
  spatial: number[],
  g: WindowGeometry,
): string {
  const [cout, cin, kh, kw] = b.staticShape(w);
  const swap = { perm: attr.ints([1, 0, 2, 3]) };
  const [pt, pl, pbm, pr] = g.pads;
  const xp = g.pads.some((p) => p > 0) ? b.op('Pad', [x, b.constInt64([0, 0, pt, pl, 0, 0, pbm, pr])]) : x;
  const xpT = b.op('Reshape', [b.op('Transpose', [xp], swap), b.constInt64([cin, -1])]);
  const hp = spatial[0] + pt + pbm;
  const wp = spatial[1] + pl + pr;
  // dY^T placed at the top-left of the padded grid and flattened to [O, N*Hp*Wp], with `maxShift` zeros in front:
  // shifting by a tap offset (i, j) is then a contiguous slice starting i*Wp + j earlier. Values moved across a
  // row or image boundary land in the zero padding because Hp - Ho and Wp - Wo cover the kernel extent.
  const grid = b.op('Pad', [
    b.op('Transpose', [dy], swap),
    b.constInt64([0, 0, 0, 0, 0, 0, hp - g.out[0], wp - g.out[1]]),
  ]);
  const maxShift = (kh - 1) * g.dilations[0] * wp + (kw - 1) * g.dilations[1];
  const flat = b.op('Pad', [b.op('Reshape', [grid, b.constInt64([cout, -1])]), b.constInt64([0, maxShift, 0, 0])]);
  const taps: string[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const shift = i * g.dilations[0] * wp + j * g.dilations[1];
      const end = shift === 0 ? 2 ** 62 : -shift;
      const shifted = b.op('Slice', [flat, b.constInt64([maxShift - shift]), b.constInt64([end]), b.constInt64([1])]);
      const tap = b.op('Gemm', [shifted, xpT], { transB: attr.int(1) });
      taps.push(b.op('Unsqueeze', [tap, b.constInt64([2])]));
    }
  }
  return b.op('Reshape', [b.op('Concat', taps, { axis: attr.int(2) }), b.constInt64([cout, cin, kh, kw])]);
}

/**
 * Batch chunking of the patch-matrix weight gradient. One patch matrix for a whole 256-sample batch (20 MB for
 * LeNet's first layer) ran slower than the batch-axis convolution; chunks of about PATCH_CHUNK_FLOATS (4 MB) at the
 * planned batch size of 256 keep it in cache. The batch size is only known at run time, so the graph splits any
 * batch into `chunks` equal parts (the count fixed when the graph is built, the sizes computed from the batch).
 * Layers whose patches exceed PATCH_CHUNK_FLOATS for PATCH_PLANNED_BATCH / PATCH_MAX_CHUNKS samples keep the
 * batch-axis convolution.
 */
const PATCH_CHUNK_FLOATS = 1 << 20;
const PATCH_PLANNED_BATCH = 256;
const PATCH_MAX_CHUNKS = 8;

/** Number of batch chunks for the patch-matrix weight gradient, or undefined when the layer is too large for it. */
export function patchChunks(cin: number, kernel: number[], out: number[], group: number): number | undefined {
  if (group !== 1 || kernel.length !== 2) return undefined;
  const perSample = cin * kernel[0] * kernel[1] * out[0] * out[1];
  const chunks = Math.max(1, Math.ceil((PATCH_PLANNED_BATCH * perSample) / PATCH_CHUNK_FLOATS));
  return chunks <= PATCH_MAX_CHUNKS ? chunks : undefined;
}

/** Columns MLAS computes for an n-column Gemm output, relative to n (its kernels work on 16-column panels). */
const panelWaste = (n: number) => (Math.ceil(n / 16) * 16) / n;

/**
 * The sum of A_i·B_iᵀ over pairs of A_i = [m, K_i] and B_i = [n, K_i] with large K_i. The operand with fewer wasted
 * panel columns goes second (MLAS packs it; A on a tie), and the sum is transposed once if that is B: lenet5
 * conv2's [150, K] x [K, 16] ran at 54 GMAC/s against 27 the other way round.
 */
function sumGemmABt(b: GraphBuilder, pairs: [string, string][], m: number, n: number): string {
  const aSecond = panelWaste(n) >= panelWaste(m);
  const products = pairs.map(([a, bm]) => b.op('Gemm', aSecond ? [bm, a] : [a, bm], { transB: attr.int(1) }));
  const sum = products.length === 1 ? products[0] : b.op('Sum', products);
  return aSecond ? b.op('Transpose', [sum], { perm: attr.ints([1, 0]) }) : sum;
}

/**
 * Windows of `count` positions along axis 3 of `src` (step `stride`), one per start offset, stacked along a new
 * axis 1. Each window is one Slice copying contiguous runs; patch matrices are built from two rounds of these.
 */
function stackWindows(b: GraphBuilder, src: string, starts: number[], stride: number, count: number): string {
  const windows = starts.map((start) =>
    b.op('Unsqueeze', [
      b.op('Slice', [
        src,
        b.constInt64([start]),
        b.constInt64([start + stride * (count - 1) + 1]),
        b.constInt64([3]),
        b.constInt64([stride]),
      ]),
      b.constInt64([1]),
    ]),
  );
  return b.op('Concat', windows, { axis: attr.int(1) });
}

const range = (n: number, step = 1) => Array.from({ length: n }, (_, i) => i * step);

/**
 * dW for small group-1 layers (lenet5's conv2, stems, ResNet's 3x3 layers on 4x4 and 2x2 maps): the explicit
 * patch matrix P = [C*kh*kw, n*Ho*Wo] and one Gemm with dY^T = [O, n*Ho*Wo] per batch chunk of n samples, summed.
 * onnxruntime's batch-axis convolution builds the same columns element by element in rows only kw long; here P
 * comes from long contiguous copies: kw strided Slices of the padded input (transposed to [C, N, Hp, Wp]) stacked
 * into R = [C, kw, n, Hp, Wo], then kh Slices of R along the rows, each copying whole Ho x Wo blocks. On the whole
 * lenet5 training step, with both convolutions on this path: -6 % at batch 64, -8 % at batch 256
 * (docs/benchmarks.md).
 */
export function patchWeightGrad(
  b: GraphBuilder,
  x: string,
  dy: string,
  w: string,
  g: WindowGeometry,
  chunks: number,
): string {
  const [cout, cin, kh, kw] = b.staticShape(w);
  const [ho, wo] = g.out;
  const [pt, pl, pbm, pr] = g.pads;
  const swap = { perm: attr.ints([1, 0, 2, 3]) };
  const xp = g.pads.some((p) => p > 0) ? b.op('Pad', [x, b.constInt64([0, 0, pt, pl, 0, 0, pbm, pr])]) : x;
  // [C, N, Hp, Wp] and [O, N, Ho, Wo]; with one channel, swapping batch and channels moves no data.
  const xt =
    cin === 1 ? b.op('Reshape', [xp, b.constInt64([1, -1, ...spatialDims(b, xp)])]) : b.op('Transpose', [xp], swap);
  const dyt = cout === 1 ? b.op('Reshape', [dy, b.constInt64([1, -1, ho, wo])]) : b.op('Transpose', [dy], swap);
  // Chunk c covers samples [c * size, (c + 1) * size), size = ceil(N / chunks); the last one runs to the end.
  let size = '';
  if (chunks > 1) {
    const n = b.op('Slice', [b.op('Shape', [dyt]), b.constInt64([1]), b.constInt64([2])]);
    size = b.op('Div', [b.op('Add', [n, b.constInt64([chunks - 1])]), b.constInt64([chunks])]);
  }
  const bound = (c: number) => (c === 0 ? b.constInt64([0]) : b.op('Mul', [size, b.constInt64([c])]));
  const pairs: [string, string][] = [];
  for (let c = 0; c < chunks; c++) {
    const chunk = (t: string) =>
      chunks === 1
        ? t
        : b.op('Slice', [t, bound(c), c === chunks - 1 ? b.constInt64([2 ** 62]) : bound(c + 1), b.constInt64([1])]);
    const r = stackWindows(b, chunk(xt), range(kw, g.dilations[1]), g.strides[1], wo);
    const rows = stackWindows(b, r, range(kh, g.dilations[0]), g.strides[0], ho);
    const p = b.op('Reshape', [rows, b.constInt64([cin * kh * kw, -1])]);
    const d = b.op('Reshape', [chunk(dyt), b.constInt64([cout, -1])]);
    pairs.push([d, p]);
  }
  const dw = sumGemmABt(b, pairs, cout, cin * kh * kw);
  return b.op('Reshape', [dw, b.constInt64([cout, cin, kh, kw])]);
}

/** Kernel offsets (in pool blocks) per axis that the polyphase weight gradient needs. */
const phaseOffsets = (k: number, s: number) => Math.ceil((k - 1) / s) + 1;

/**
 * Whether dW can use the member form of the gradient (a max-pool tiling this convolution's output): stride 1,
 * no dilation, group 1, and phase patches and selection table of moderate size.
 */
function polyphaseApplies(b: GraphBuilder, x: string, w: string, g: WindowGeometry, group: number, s: number): boolean {
  if (group !== 1 || g.kernel.length !== 2 || g.strides.some((v) => v !== 1) || g.dilations.some((d) => d !== 1))
    return false;
  const [, cin, kh, kw] = b.staticShape(w);
  if (g.out.some((o) => o % s !== 0)) return false;
  const [dh, dw] = [phaseOffsets(kh, s), phaseOffsets(kw, s)];
  const spatial = spatialDims(b, x);
  const padEnd = [
    (g.out[0] / s + dh - 1) * s - spatial[0] - g.pads[0],
    (g.out[1] / s + dw - 1) * s - spatial[1] - g.pads[1],
  ];
  if (padEnd.some((p) => p < 0)) return false;
  const rows = s * s * cin * dh * dw;
  return rows * (g.out[0] / s) * (g.out[1] / s) <= 1 << 16 && s * s * rows * cin * kh * kw <= 1 << 21;
}

/**
 * dW from the member form of the gradient (PoolMembers) of a max-pool with s x s windows tiling the output, with
 * no scattered full-size gradient. Output pixel (s*i + a, s*j + b) reads padded input (s*i + a + u, s*j + b + v)
 * for kernel tap (u, v), i.e. phase image ((a+u) mod s, (b+v) mod s) of the padded input (SpaceToDepth) at
 * (i + (a+u) div s, j + (b+v) div s). One Gemm contracts the members' gradients [s*s*O, N*Ho/s*Wo/s] with the
 * phase patches [s*s*C*D*D, same] (D offsets per axis; for lenet5's conv1 2.8x fewer floats than its plain patch
 * matrix) for every (member, phase, offset) pair; a constant 0/1 table then picks and sums, per member, the pairs
 * each tap needs. lenet5's conv1: -6 % training step at batch 64, -7 % at 256 (docs/benchmarks.md).
 */
function polyphaseWeightGrad(b: GraphBuilder, x: string, w: string, g: WindowGeometry, form: PoolMembers): string {
  const [cout, cin, kh, kw] = b.staticShape(w);
  const s = form.block;
  const [hq, wq] = [g.out[0] / s, g.out[1] / s];
  const [dh, dw] = [phaseOffsets(kh, s), phaseOffsets(kw, s)];
  const spatial = spatialDims(b, x);
  const [pt, pl] = [g.pads[0], g.pads[1]];
  const [pb, pr] = [(hq + dh - 1) * s - spatial[0] - pt, (wq + dw - 1) * s - spatial[1] - pl];
  const xp = pt || pl || pb || pr ? b.op('Pad', [x, b.constInt64([0, 0, pt, pl, 0, 0, pb, pr])]) : x;
  // Phase images [s*s*C, N, Hp/s, Wp/s], channel (p*s + q)*C + c.
  const phases = b.op('Transpose', [b.op('SpaceToDepth', [xp], { blocksize: attr.int(s) })], {
    perm: attr.ints([1, 0, 2, 3]),
  });
  const rows = s * s * cin * dh * dw;
  const windows = stackWindows(b, stackWindows(b, phases, range(dw), 1, wq), range(dh), 1, hq);
  const patches = b.op('Reshape', [windows, b.constInt64([rows, -1])]);
  const grads = b.op('Reshape', [
    b.op('Transpose', [form.members], { perm: attr.ints([2, 1, 0, 3, 4]) }),
    b.constInt64([s * s * cout, -1]),
  ]);
  const pairs = sumGemmABt(b, [[grads, patches]], s * s * cout, rows);
  // select[m][(phase*C + c)*dh*dw + du*dw + dv][(c*kh + u)*kw + v] = 1 for the pair tap (u, v) of member m reads.
  const taps = cin * kh * kw;
  const select = new Float32Array(s * s * rows * taps);
  for (let a = 0; a < s; a++)
    for (let bb = 0; bb < s; bb++)
      for (let c = 0; c < cin; c++)
        for (let u = 0; u < kh; u++)
          for (let v = 0; v < kw; v++) {
            const [t, q] = [a + u, bb + v];
            const phase = (t % s) * s + (q % s);
            const row = ((phase * cin + c) * dh + Math.floor(t / s)) * dw + Math.floor(q / s);
            select[((a * s + bb) * rows + row) * taps + (c * kh + u) * kw + v] = 1;
          }
  const perMember = b.op('MatMul', [
    b.op('Reshape', [pairs, b.constInt64([s * s, cout, rows])]),
    b.constFloat(select, [s * s, rows, taps]),
  ]);
  return b.op('Reshape', [reduceSum(b, perMember, [0], false), b.constInt64([cout, cin, kh, kw])]);
}

/**
 * dW for group > 1 (incl. depthwise): extract patches with a constant one-hot depthwise convolution
 * (im2col in standard ops: [N, C*k*k, Ho, Wo]) and contract with dY per group using Einsum. The patch tensor is
 * k*k times the input; for the depthwise layers where this is used the inputs are small.
 */
function convWeightGradGrouped(
  b: GraphBuilder,
  x: string,
  dy: string,
  w: string,
  g: WindowGeometry,
  group: number,
): string {
  const [cout, cinPerGroup, kh, kw] = b.staticShape(w);
  const c = cinPerGroup * group;
  const kk = kh * kw;
  const onehot = new Float32Array(c * kk * kk);
  for (let ch = 0; ch < c; ch++) for (let j = 0; j < kk; j++) onehot[(ch * kk + j) * kk + j] = 1;
  const eye = b.addInitializer(b.fresh('im2col_eye'), { dtype: 'float32', dims: [c * kk, 1, kh, kw], data: onehot });
  const patches = b.op('Conv', [x, eye], {
    strides: attr.ints(g.strides),
    dilations: attr.ints(g.dilations),
    pads: attr.ints(g.pads),
    group: attr.int(c),
  });
  const positions = g.out.reduce((p, d) => p * d, 1);
  const p4 = b.op('Reshape', [patches, b.constInt64([0, group, cinPerGroup * kk, positions])]);
  const d4 = b.op('Reshape', [dy, b.constInt64([0, group, cout / group, positions])]);
  const gok = b.op('Einsum', [p4, d4], { equation: attr.string('ngkp,ngop->gok') });
  return b.op('Reshape', [gok, b.constInt64([cout, cinPerGroup, kh, kw])]);
}

/** 1x1, stride 1, unpadded, ungrouped: the convolution is a per-pixel matrix product. */
function isPointwise(g: WindowGeometry, group: number): boolean {
  return (
    group === 1 && g.kernel.every((k) => k === 1) && g.strides.every((s) => s === 1) && g.pads.every((p) => p === 0)
  );
}

/**
 * Pointwise dW = dY^T X over all pixels of the batch: one Gemm on [O, N*P] x [C, N*P]^T. The convolution over the
 * batch axis would run one matrix-vector product per input channel, several times slower.
 */
function pointwiseWeightGrad(b: GraphBuilder, x: string, dy: string, w: string): string {
  const [cout, cin] = b.staticShape(w);
  const swap = { perm: attr.ints([1, 0, 2, 3]) };
  const dyT = b.op('Reshape', [b.op('Transpose', [dy], swap), b.constInt64([cout, -1])]);
  const xT = b.op('Reshape', [b.op('Transpose', [x], swap), b.constInt64([cin, -1])]);
  const dw = b.op('Gemm', [dyT, xT], { transB: attr.int(1) });
  return b.op('Reshape', [dw, b.constInt64([cout, cin, 1, 1])]);
}

/**
 * dX of a stride-1, group-1 convolution whose padding is "same" for the flipped kernel: a plain convolution of dY
 * with the kernel transposed ([C, O]) and flipped. onnxruntime runs Conv faster than ConvTranspose on maps of
 * useful size; on tiny maps the padding overhead makes ConvTranspose the better choice.
 */
function flippedConvApplies(g: WindowGeometry, group: number, spatial: number[]): boolean {
  if (group !== 1 || g.strides.some((s) => s !== 1)) return false;
  const r = spatial.length;
  const sameFlip = g.kernel.every((k, i) => g.dilations[i] * (k - 1) - g.pads[i] === g.pads[i + r]);
  return sameFlip && spatial.reduce((p, d) => p * d, 1) >= 4;
}

function flippedConvInputGrad(b: GraphBuilder, dy: string, w: string, g: WindowGeometry): string {
  let flipped = w;
  const [cout, cinPerGroup, kh, kw] = b.staticShape(w);
  if (g.kernel.some((k) => k > 1)) {
    // Reversing the kernel taps is a product with a constant permutation matrix: onnxruntime runs that Gemm much
    // faster than a Slice with negative steps.
    const kk = kh * kw;
    const reverse = new Float32Array(kk * kk);
    for (let i = 0; i < kk; i++) reverse[i * kk + (kk - 1 - i)] = 1;
    const rows = b.op('Reshape', [w, b.constInt64([cout * cinPerGroup, kk])]);
    flipped = b.op('Reshape', [
      b.op('MatMul', [rows, b.constFloat(reverse, [kk, kk])]),
      b.constInt64([cout, cinPerGroup, kh, kw]),
    ]);
  }
  const wt = b.op('Transpose', [flipped], { perm: attr.ints([1, 0, 2, 3]) });
  const r = g.kernel.length;
  // Flipping the kernel swaps begin and end padding.
  const pads = [...g.pads.slice(r), ...g.pads.slice(0, r)];
  return b.op('Conv', [dy, wt], { dilations: attr.ints(g.dilations), pads: attr.ints(pads) });
}

/**
 * The kernel tap a 1x1 input map reaches, when the output is 1x1 too (the last stages of the zoo's networks on
 * 28x28 inputs): with "same" padding only that tap ever meets data, so the convolution is a matrix product with
 * W[:, :, i, j] and its gradients are two small Gemms instead of convolutions over mostly-padding windows.
 */
function singleTap(spatial: number[], g: WindowGeometry): number[] | undefined {
  if (spatial.some((d) => d !== 1) || g.out.some((d) => d !== 1)) return undefined;
  const taps = g.pads.slice(0, spatial.length).map((p, i) => p / g.dilations[i]);
  return taps.every((t, i) => Number.isInteger(t) && t >= 0 && t < g.kernel[i]) ? taps : undefined;
}

function singleTapGrads(
  ctx: GradContext,
  x: string,
  w: string,
  dy: string,
  taps: number[],
  group: number,
): [string | undefined, string | undefined] {
  const { b } = ctx;
  const [cout, cinPerGroup, kh, kw] = b.staticShape(w);
  const cin = cinPerGroup * group;
  const depthwise = group === cin && cinPerGroup === 1 && cout === cin;
  if (group !== 1 && !depthwise) return [undefined, undefined];
  // The live tap as a one-hot vector over the kernel positions: selecting and placing it with products runs
  // faster in onnxruntime than Slice and Pad.
  const select = new Float32Array(kh * kw);
  select[taps[0] * kw + taps[1]] = 1;
  const rows = b.op('Reshape', [w, b.constInt64([cout * cinPerGroup, kh * kw])]);
  const tap = b.op('Reshape', [
    b.op('MatMul', [rows, b.constFloat(select, [kh * kw, 1])]),
    b.constInt64(depthwise ? [cout] : [cout, cin]),
  ]);
  const dy2 = b.op('Reshape', [dy, b.constInt64([-1, cout])]);
  const x2 = b.op('Reshape', [x, b.constInt64([-1, cin])]);
  let dx: string | undefined;
  let dw: string | undefined;
  if (ctx.needs(0)) {
    const flat = depthwise ? b.op('Mul', [dy2, tap]) : b.op('Gemm', [dy2, tap]);
    dx = b.op('Reshape', [flat, shapeOf(b, x)]);
  }
  if (ctx.needs(1)) {
    const dtap = depthwise
      ? reduceSum(b, b.op('Mul', [dy2, x2]), [0], false)
      : b.op('Gemm', [dy2, x2], { transA: attr.int(1) });
    dw = b.op('Mul', [
      b.op('Reshape', [dtap, b.constInt64([cout, cinPerGroup, 1, 1])]),
      b.constFloat(select, [1, 1, kh, kw]),
    ]);
  }
  return [dx, dw];
}

/** Conv (2-D; stride, padding, dilation, groups incl. depthwise, optional bias). */
export function convGrad(ctx: GradContext) {
  const { b, node } = ctx;
  const [x, w, bias] = node.inputs;
  if (b.rank(x) !== 4) throw new UnsupportedOpError('Conv', node.name, 'only 2-D convolutions have a gradient rule');
  const group = intAttr(node.attrs, 'group', 1);
  const spatial = spatialDims(b, x);
  const g = windowGeometry(node.attrs, spatial, b.staticShape(w).slice(2));
  const dy = requireDy(ctx);
  const taps = singleTap(spatial, g);
  if (taps) {
    const [tx, tw] = singleTapGrads(ctx, x, w, dy, taps, group);
    if ((tx || !ctx.needs(0)) && (tw || !ctx.needs(1))) {
      return [tx, tw, bias && ctx.needs(2) ? reduceSum(b, dy, [0, 2, 3], false) : undefined];
    }
  }
  let dx: string | undefined;
  if (ctx.needs(0)) {
    dx = flippedConvApplies(g, group, spatial)
      ? flippedConvInputGrad(b, dy, w, g)
      : convInputGrad(b, dy, w, spatial, g, group);
  }
  const members = ctx.membersOf(dy);
  // Only when dX is not needed (a first layer): then the scattered full-size gradient is never built. With dX
  // needed it is built anyway, and the plain weight gradient measured faster (lenet5 conv2).
  const polyphase = members !== undefined && !ctx.needs(0) && polyphaseApplies(b, x, w, g, group, members.block);
  let dw: string | undefined;
  if (ctx.needs(1) && polyphase) dw = polyphaseWeightGrad(b, x, w, g, members);
  else if (ctx.needs(1)) {
    const chunks = patchChunks(b.staticShape(w)[1], g.kernel, g.out, group);
    if (isPointwise(g, group)) dw = pointwiseWeightGrad(b, x, dy, w);
    else if (shiftedWeightGradApplies(b, w, g, group)) dw = shiftedWeightGrad(b, x, dy, w, spatial, g);
    else if (chunks !== undefined) dw = patchWeightGrad(b, x, dy, w, g, chunks);
    else if (group === 1) dw = convWeightGradDense(b, x, dy, g);
    else dw = convWeightGradGrouped(b, x, dy, w, g, group);
  }
  // Every pooled gradient value reaches exactly one member, so the bias gradient is its sum.
  const db = bias && ctx.needs(2) ? reduceSum(b, polyphase ? members.pooled : dy, [0, 2, 3], false) : undefined;
  return [dx, dw, db];
}
