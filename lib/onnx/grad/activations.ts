import { floatAttr } from '../spatial';
import { GraphError } from '../graph-error';
import { attr } from '../types';

import { reduceSum, requireDy, scalar, type GradContext } from './context';

/**
 * Relu: dx = dy where y > 0, as dy * float(y > 0). onnxruntime's Greater, Cast and Mul are vectorised; Sign and
 * Where are not (Mul(dy, Sign(y)) takes ~3x and Where(Greater(y, 0), dy, 0) ~1.6x as long on 1.2M floats). The
 * output is used so the input can be freed.
 */
export function reluGrad(ctx: GradContext) {
  const { b } = ctx;
  const positive = b.op('Cast', [b.op('Greater', [ctx.node.outputs[0], scalar(b, 0)])], { to: attr.int(1) });
  return [b.op('Mul', [requireDy(ctx), positive])];
}

/** Sigmoid: dx = dy * y * (1 - y). */
export function sigmoidGrad(ctx: GradContext) {
  const { b } = ctx;
  const y = ctx.node.outputs[0];
  return [b.op('Mul', [requireDy(ctx), b.op('Mul', [y, b.op('Sub', [scalar(b, 1), y])])])];
}

/** Tanh: dx = dy * (1 - y^2). */
export function tanhGrad(ctx: GradContext) {
  const { b } = ctx;
  const y = ctx.node.outputs[0];
  return [b.op('Mul', [requireDy(ctx), b.op('Sub', [scalar(b, 1), b.op('Mul', [y, y])])])];
}

/** HardSigmoid y = clip(alpha x + beta, 0, 1): dx = alpha dy inside the linear region. */
export function hardSigmoidGrad(ctx: GradContext) {
  const { b } = ctx;
  const alpha = floatAttr(ctx.node.attrs, 'alpha', 0.2);
  const y = ctx.node.outputs[0];
  const inside = b.op('And', [b.op('Greater', [y, scalar(b, 0)]), b.op('Less', [y, scalar(b, 1)])]);
  return [b.op('Where', [inside, b.op('Mul', [requireDy(ctx), scalar(b, alpha)]), scalar(b, 0)])];
}

/** HardSwish y = x * clip(x/6 + 1/2, 0, 1): dy/dx = 0 (x < -3), 1 (x > 3), x/3 + 1/2 between. */
export function hardSwishGrad(ctx: GradContext) {
  const { b } = ctx;
  const x = ctx.node.inputs[0];
  const middle = b.op('Add', [b.op('Mul', [x, scalar(b, 1 / 3)]), scalar(b, 0.5)]);
  const upper = b.op('Where', [b.op('Greater', [x, scalar(b, 3)]), scalar(b, 1), middle]);
  const d = b.op('Where', [b.op('Less', [x, scalar(b, -3)]), scalar(b, 0), upper]);
  return [b.op('Mul', [requireDy(ctx), d])];
}

/** Clip with constant bounds: dx = dy strictly inside (min, max). */
export function clipGrad(ctx: GradContext) {
  const { b } = ctx;
  const x = ctx.node.inputs[0];
  const [, lo, hi] = ctx.node.inputs;
  let mask: string | undefined;
  if (lo) mask = b.op('Greater', [x, lo]);
  if (hi) {
    const upper = b.op('Less', [x, hi]);
    mask = mask ? b.op('And', [mask, upper]) : upper;
  }
  if (!mask) return [requireDy(ctx)];
  return [b.op('Where', [mask, requireDy(ctx), scalar(b, 0)]), undefined, undefined];
}

function softmaxAxis(ctx: GradContext): number {
  const a = ctx.node.attrs.axis;
  const rank = ctx.b.rank(ctx.node.inputs[0]);
  const axis = a && a.kind === 'int' ? a.value : -1;
  if (axis !== -1 && axis !== rank - 1)
    throw new GraphError(`${ctx.node.op} node '${ctx.node.name}': only the last axis is supported`);
  return rank - 1;
}

/** Softmax over the last axis: dx = y * (dy - sum(dy * y)). */
export function softmaxGrad(ctx: GradContext) {
  const { b } = ctx;
  const axis = softmaxAxis(ctx);
  const y = ctx.node.outputs[0];
  const dy = requireDy(ctx);
  const s = reduceSum(b, b.op('Mul', [dy, y]), [axis], true);
  return [b.op('Mul', [y, b.op('Sub', [dy, s])])];
}

/** LogSoftmax over the last axis: dx = dy - exp(y) * sum(dy). */
export function logSoftmaxGrad(ctx: GradContext) {
  const { b } = ctx;
  const axis = softmaxAxis(ctx);
  const dy = requireDy(ctx);
  const s = reduceSum(b, dy, [axis], true);
  return [b.op('Sub', [dy, b.op('Mul', [b.op('Exp', [ctx.node.outputs[0]]), s])])];
}
