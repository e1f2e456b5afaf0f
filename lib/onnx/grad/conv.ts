import { UnsupportedOpError } from '../unsupported-op-error';
import { intAttr, windowGeometry, type WindowGeometry } from '../spatial';
import { attr } from '../types';
import type { GraphBuilder } from '../builder';
import { reduceSum, requireDy, spatialDims, type GradContext } from './context';

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
  const xt = b.op('Transpose', [x], swap);
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

/** Conv (2-D; stride, padding, dilation, groups incl. depthwise, optional bias). */
export function convGrad(ctx: GradContext) {
  const { b, node } = ctx;
  const [x, w, bias] = node.inputs;
  if (b.rank(x) !== 4) throw new UnsupportedOpError('Conv', node.name, 'only 2-D convolutions have a gradient rule');
  const group = intAttr(node.attrs, 'group', 1);
  const spatial = spatialDims(b, x);
  const g = windowGeometry(node.attrs, spatial, b.staticShape(w).slice(2));
  const dy = requireDy(ctx);
  const dx = ctx.needs(0) ? convInputGrad(b, dy, w, spatial, g, group) : undefined;
  let dw: string | undefined;
  if (ctx.needs(1)) dw = group === 1 ? convWeightGradDense(b, x, dy, g) : convWeightGradGrouped(b, x, dy, w, g, group);
  const db = bias && ctx.needs(2) ? reduceSum(b, dy, [0, 2, 3], false) : undefined;
  return [dx, dw, db];
}
