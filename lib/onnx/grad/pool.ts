import { UnsupportedOpError } from '../unsupported-op-error';
import { intAttr, intsAttr, windowGeometry, type WindowGeometry } from '../spatial';
import type { GraphBuilder } from '../builder';
import { attr, type GraphNode } from '../types';
import { outputPadding } from './conv';
import { requireDy, scalar, shapeOf, spatialDims, type GradContext } from './context';

function poolGeometry(ctx: GradContext): { spatial: number[]; g: WindowGeometry } {
  const { b, node } = ctx;
  const x = node.inputs[0];
  if (b.rank(x) !== 4) throw new UnsupportedOpError(node.op, node.name, 'only 2-D pooling has a gradient rule');
  const spatial = spatialDims(b, x);
  const ceil = intAttr(node.attrs, 'ceil_mode', 0) === 1;
  const g = windowGeometry(node.attrs, spatial, intsAttr(node.attrs, 'kernel_shape', []), ceil);
  if (ceil && outputPadding(spatial, g).some((p) => p < 0)) {
    throw new UnsupportedOpError(node.op, node.name, 'ceil_mode windows that overhang the padded input');
  }
  return { spatial, g };
}

/**
 * Whether a MaxPool tiles its input exactly with non-overlapping k x k windows (kernel = stride, no padding or
 * dilation, sizes divisible by k, static channels). Such pools get an index-free backward pass.
 */
function tiledPoolBlock(node: GraphNode, b: GraphBuilder): number | undefined {
  const x = node.inputs[0];
  const s = b.shape(x);
  if (s.length !== 4 || typeof s[1] !== 'number' || typeof s[2] !== 'number' || typeof s[3] !== 'number') return;
  if (intAttr(node.attrs, 'storage_order', 0) !== 0 || intAttr(node.attrs, 'ceil_mode', 0) !== 0) return;
  const g = windowGeometry(node.attrs, [s[2], s[3]], intsAttr(node.attrs, 'kernel_shape', []), false);
  const k = g.kernel[0];
  if (k < 2 || g.kernel[1] !== k || g.strides.some((v) => v !== k) || g.dilations.some((d) => d !== 1)) return;
  if (g.pads.some((p) => p !== 0) || s[2] % k !== 0 || s[3] % k !== 0) return;
  // The backward pass computes flat offsets within one image in float32, exact below 2^24.
  if (s[1] * s[2] * s[3] >= 2 ** 24) return;
  return k;
}

/**
 * MaxPool also emits its argmax indices in the training graph (the backward pass scatters through them), except
 * when its windows tile the input: then the backward pass rebuilds the indices from the output (see below).
 */
export function maxPoolPrepare(node: GraphNode, b: GraphBuilder): GraphNode {
  if (node.outputs.length > 1 && node.outputs[1]) return node;
  if (tiledPoolBlock(node, b) !== undefined) return node;
  return { ...node, outputs: [node.outputs[0], b.fresh(`${node.outputs[0]}_argmax`)] };
}

/**
 * MaxPool: dX[argmax] += dY. Indices are flat over the whole NCHW tensor, so one ScatterElements on the
 * flattened tensors routes every output gradient; overlapping windows (kernel > stride) accumulate with 'add'.
 */
export function maxPoolGrad(ctx: GradContext) {
  const { b, node } = ctx;
  const { g } = poolGeometry(ctx);
  if (intAttr(node.attrs, 'storage_order', 0) !== 0)
    throw new UnsupportedOpError('MaxPool', node.name, 'storage_order = 1');
  const x = node.inputs[0];
  const block = node.outputs.length > 1 && node.outputs[1] ? undefined : tiledPoolBlock(node, b);
  if (block !== undefined) {
    const dy = requireDy(ctx);
    const dx = tiledMaxPoolGrad(b, x, node.outputs[0], dy, block);
    ctx.offerMembers(dx, { members: tiledMaxPoolMembers(b, x, node.outputs[0], dy, block), pooled: dy, block });
    return [dx];
  }
  const overlap = g.kernel.some((k, i) => (k - 1) * g.dilations[i] + 1 > g.strides[i]);
  if (!overlap) {
    // Disjoint windows: every input position receives at most one gradient, which is what MaxUnpool does.
    return [
      b.op('MaxUnpool', [requireDy(ctx), node.outputs[1], shapeOf(b, x)], {
        kernel_shape: attr.ints(g.kernel),
        strides: attr.ints(g.strides),
        pads: attr.ints(g.pads),
      }),
    ];
  }
  const flat = b.constInt64([-1]);
  const zeros = b.op('ConstantOfShape', [b.op('Reshape', [b.op('Size', [x]), b.constInt64([1])])], {
    value: attr.tensor({ dtype: 'float32', dims: [1], data: new Float32Array([0]) }),
  });
  const scattered = b.op(
    'ScatterElements',
    [zeros, b.op('Reshape', [node.outputs[1], flat]), b.op('Reshape', [requireDy(ctx), flat])],
    {
      axis: attr.int(0),
      reduction: attr.string('add'),
    },
  );
  return [b.op('Reshape', [scattered, shapeOf(b, x)])];
}

/**
 * Backward of a max-pool whose k x k windows tile the input, without the slow MaxPool-with-indices kernel: the
 * indices are rebuilt from the pooled output. Each window member is a strided Slice of X ([N, C, Ho, Wo]);
 * comparing members with Y in row-major window order picks the *first* maximum (PyTorch's choice: MNIST's
 * constant background makes ties common, and the gradient must go to exactly one of them), and MaxUnpool routes
 * dY through the flat NCHW indices. All of it runs on pooled-size tensors.
 */
function tiledMaxPoolGrad(b: GraphBuilder, x: string, y: string, dy: string, k: number): string {
  const [, c, h, w] = b.shape(x) as [string | number, number, number, number];
  const ho = h / k;
  const wo = w / k;
  // Flat index of each window's top-left member within one image (below 2^24: exact in float32).
  const origin = new Float32Array(c * ho * wo);
  for (let ch = 0; ch < c; ch++)
    for (let r = 0; r < ho; r++)
      for (let q = 0; q < wo; q++) origin[(ch * ho + r) * wo + q] = ch * h * w + r * k * w + q * k;
  const origins = b.constFloat(origin, [1, c, ho, wo], 'unpool_origin');
  const big = 2 ** 62;
  // The member's offset within its window, chosen in float32 (half the bytes of int64; small exact integers).
  let rel = b.constFloat([(k - 1) * w + k - 1], []);
  for (let m = k * k - 2; m >= 0; m--) {
    const di = Math.floor(m / k);
    const dj = m % k;
    const slice = b.op('Slice', [
      x,
      b.constInt64([di, dj]),
      b.constInt64([big, big]),
      b.constInt64([2, 3]),
      b.constInt64([k, k]),
    ]);
    rel = b.op('Where', [b.op('Equal', [slice, y]), b.constFloat([di * w + dj], []), rel]);
  }
  const index = b.op('Cast', [b.op('Add', [rel, origins])], { to: attr.int(7) });
  // Plus n * C * H * W for image n.
  const xShape = b.op('Shape', [x]);
  const n = b.op('Squeeze', [b.op('Slice', [xShape, b.constInt64([0]), b.constInt64([1])]), b.constInt64([0])]);
  const image = c * h * w;
  const offsets = b.op('Range', [
    b.constInt64([0], []),
    b.op('Mul', [n, b.constInt64([image], [])]),
    b.constInt64([image], []),
  ]);
  const batchShape = b.op('Concat', [b.op('Gather', [xShape, b.constInt64([0])]), b.constInt64([1, 1, 1])], {
    axis: attr.int(0),
  });
  const flat = b.op('Add', [index, b.op('Reshape', [offsets, batchShape])]);
  return b.op('MaxUnpool', [dy, flat, shapeOf(b, x)], {
    kernel_shape: attr.ints([k, k]),
    strides: attr.ints([k, k]),
  });
}

/**
 * The same backward pass in member form (see PoolMembers in context.ts): the input in SpaceToDepth layout [N*C, k*k, Ho, Wo]
 * compared with Y gives each member's "is a maximum" flag; a member is selected when no earlier member in
 * row-major window order is a maximum (PyTorch's first maximum), and carries dY. No scatter, no indices.
 */
function tiledMaxPoolMembers(b: GraphBuilder, x: string, y: string, dy: string, k: number): string {
  const [, c, h, w] = b.shape(x) as [string | number, number, number, number];
  const ho = h / k;
  const wo = w / k;
  const members = b.op('SpaceToDepth', [b.op('Reshape', [x, b.constInt64([-1, 1, h, w])])], {
    blocksize: attr.int(k),
  });
  const isMax = b.op('Equal', [members, b.op('Reshape', [y, b.constInt64([-1, 1, ho, wo])])]);
  const selected: string[] = [];
  let earlier = '';
  for (let m = 0; m < k * k; m++) {
    const flag = b.op('Slice', [isMax, b.constInt64([m]), b.constInt64([m + 1]), b.constInt64([1])]);
    selected.push(m === 0 ? flag : b.op('And', [flag, b.op('Not', [earlier])]));
    if (m < k * k - 1) earlier = m === 0 ? flag : b.op('Or', [earlier, flag]);
  }
  const mask = b.op('Cast', [b.op('Concat', selected, { axis: attr.int(1) })], { to: attr.int(1) });
  const routed = b.op('Mul', [mask, b.op('Reshape', [dy, b.constInt64([-1, 1, ho, wo])])]);
  return b.op('Reshape', [routed, b.constInt64([-1, c, k * k, ho, wo])]);
}

/**
 * AveragePool: spread dY / divisor over each window with a depthwise ConvTranspose of ones. The divisor per
 * output position is static (count_include_pad decides whether padding counts).
 */
export function averagePoolGrad(ctx: GradContext) {
  const { b, node } = ctx;
  const { spatial, g } = poolGeometry(ctx);
  const x = node.inputs[0];
  const channels = b.shape(x)[1];
  if (typeof channels !== 'number') throw new UnsupportedOpError('AveragePool', node.name, 'symbolic channel count');
  const includePad = intAttr(node.attrs, 'count_include_pad', 0) === 1;
  const [oh, ow] = g.out;
  const counts = new Float32Array(oh * ow);
  const extent = (o: number, i: number) => {
    const lo = includePad ? -g.pads[i] : 0;
    const hi = includePad ? spatial[i] + g.pads[i + 2] : spatial[i];
    const start = o * g.strides[i] - g.pads[i];
    return Math.min(start + g.kernel[i], hi) - Math.max(start, lo);
  };
  for (let r = 0; r < oh; r++) for (let c = 0; c < ow; c++) counts[r * ow + c] = 1 / (extent(r, 0) * extent(c, 1));
  const scale = counts.every((v) => v === counts[0]) ? scalar(b, counts[0]) : b.constFloat(counts, [1, 1, oh, ow]);
  const ones = b.constFloat(new Float32Array(channels * g.kernel[0] * g.kernel[1]).fill(1), [channels, 1, ...g.kernel]);
  return [
    b.op('ConvTranspose', [b.op('Mul', [requireDy(ctx), scale]), ones], {
      strides: attr.ints(g.strides),
      pads: attr.ints(g.pads),
      group: attr.int(channels),
      output_padding: attr.ints(outputPadding(spatial, g)),
    }),
  ];
}

/** GlobalAveragePool: dX = dY / (H W), broadcast over the spatial axes. */
export function globalAveragePoolGrad(ctx: GradContext) {
  const { b, node } = ctx;
  const x = node.inputs[0];
  const hw = spatialDims(b, x).reduce((p, d) => p * d, 1);
  return [b.op('Expand', [b.op('Mul', [requireDy(ctx), scalar(b, 1 / hw)]), shapeOf(b, x)])];
}
