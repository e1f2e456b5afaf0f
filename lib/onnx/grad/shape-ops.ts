import { GraphError } from '../graph-error';
import { intAttr, intsAttr } from '../spatial';
import { attr } from '../types';
import { reshapeLike, requireDy, zerosLike, type GradContext } from './context';

/** Flatten, Reshape, Squeeze, Unsqueeze: reshape the gradient back to the input's shape. */
export function reshapeGrad(ctx: GradContext) {
  return [reshapeLike(ctx.b, requireDy(ctx), ctx.node.inputs[0])];
}

export function transposeGrad(ctx: GradContext) {
  const r = ctx.b.rank(ctx.node.inputs[0]);
  const perm = intsAttr(
    ctx.node.attrs,
    'perm',
    Array.from({ length: r }, (_, i) => r - 1 - i),
  );
  const inverse = new Array<number>(r);
  perm.forEach((p, i) => (inverse[p] = i));
  return [ctx.b.op('Transpose', [requireDy(ctx)], { perm: attr.ints(inverse) })];
}

/** Concat: split the gradient along the concatenation axis into the inputs' (static) sizes. */
export function concatGrad(ctx: GradContext) {
  const { b, node } = ctx;
  const rank = b.rank(node.inputs[0]);
  let axis = intAttr(node.attrs, 'axis', 0);
  if (axis < 0) axis += rank;
  const sizes = node.inputs.map((x) => {
    const d = b.shape(x)[axis];
    if (typeof d !== 'number')
      throw new GraphError(`Concat node '${node.name}': axis ${axis} must be static for its gradient`);
    return d;
  });
  const parts = b.node(
    'Split',
    [requireDy(ctx), b.constInt64(sizes)],
    { axis: attr.int(axis) },
    { outputs: sizes.length },
  );
  return parts.map((p, i) => (ctx.needs(i) ? p : undefined));
}

/** Split: concatenate the output gradients (zeros for outputs that received none). */
export function splitGrad(ctx: GradContext) {
  const { b, node } = ctx;
  const parts = node.outputs.map((o, i) => ctx.dy(i) ?? zerosLike(b, o));
  return [b.op('Concat', parts, { axis: attr.int(intAttr(node.attrs, 'axis', 0)) })];
}
