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

/** MaxPool also emits its argmax indices in the training graph; the backward pass scatters through them. */
export function maxPoolPrepare(node: GraphNode, b: GraphBuilder): GraphNode {
  if (node.outputs.length > 1 && node.outputs[1]) return node;
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
