import { intAttr, intsAttr } from '../spatial';

import { countOf, requireDy, shapeOf, type GradContext } from './context';

function reducedAxes(ctx: GradContext): number[] {
  const { b, node } = ctx;
  const rank = b.rank(node.inputs[0]);
  let axes: number[] | undefined;
  if (node.attrs.axes) axes = intsAttr(node.attrs, 'axes', []);
  else if (node.inputs[1]) axes = (b.known(node.inputs[1]) as number[] | undefined) ?? [];
  if (!axes || axes.length === 0) return Array.from({ length: rank }, (_, i) => i);
  return axes.map((a) => (a < 0 ? a + rank : a));
}

/** Broadcasts the reduced gradient back over the reduced axes. */
function expandBack(ctx: GradContext, g: string): string {
  const { b, node } = ctx;
  let kept = g;
  if (intAttr(node.attrs, 'keepdims', 1) === 0) kept = b.op('Unsqueeze', [g, b.constInt64(reducedAxes(ctx))]);
  return b.op('Expand', [kept, shapeOf(b, node.inputs[0])]);
}

export function reduceSumGrad(ctx: GradContext) {
  return [expandBack(ctx, requireDy(ctx)), undefined];
}

export function reduceMeanGrad(ctx: GradContext) {
  const { b, node } = ctx;
  const x = node.inputs[0];
  const y = node.outputs[0];
  const xs = b.shape(x);
  const axes = reducedAxes(ctx);
  let scale: string;
  if (axes.every((a) => typeof xs[a] === 'number')) {
    scale = b.constFloat([1 / axes.reduce((p, a) => p * (xs[a] as number), 1)], []);
  } else {
    scale = b.op('Div', [countOf(b, y), countOf(b, x)]);
  }
  return [expandBack(ctx, b.op('Mul', [requireDy(ctx), scale])), undefined];
}
