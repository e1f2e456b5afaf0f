import type { GraphBuilder } from '../builder';
import { GraphError } from '../graph-error';
import { attr, type GraphNode, type Shape } from '../types';

/** What a gradient rule sees: the builder of the training graph, the forward node, and its output gradients. */
export interface GradContext {
  b: GraphBuilder;
  node: GraphNode;
  /** Gradient of the loss with respect to output `i` (undefined when no gradient flows there). */
  dy(i?: number): string | undefined;
  /** Whether input `i` needs a gradient (float-typed and reachable from a trainable parameter). */
  needs(i: number): boolean;
  /** Records that gradient value `dx` (returned by this rule) is also available as `form`. */
  offerMembers(dx: string, form: PoolMembers): void;
  /** The member form of gradient value `dy`, when the rule that produced it offered one. */
  membersOf(dy: string): PoolMembers | undefined;
}

/**
 * A max-pool input gradient also offered per window member: for a pool whose s x s windows tile its input,
 * `members` = [N, C, s*s, Ho, Wo] holds, for member m = (a, b) of window (i, j), the gradient that reaches input
 * pixel (s*i + a, s*j + b) (zero except at each window's first maximum), and `pooled` = [N, C, Ho, Wo] the
 * gradient of the pool output (every value of it reaches exactly one member). A convolution feeding the pool can
 * compute its weight and bias gradients from this form without the scattered full-size gradient; the autodiff
 * drops whichever form no consumer reads.
 */
export interface PoolMembers {
  members: string;
  pooled: string;
  block: number;
}

/** A gradient rule returns one gradient (or undefined) per input of the node. */
export type GradRule = (ctx: GradContext) => (string | undefined)[];

/**
 * Optional rewrite of the forward node before differentiation, e.g. MaxPool also emitting its argmax indices or
 * SoftmaxCrossEntropyLoss also emitting log-probabilities that the backward pass reuses. The builder holds
 * everything before the node, so shapes of its inputs are known.
 */
export type PrepareRule = (node: GraphNode, b: GraphBuilder) => GraphNode;

export interface OpGradient {
  grad: GradRule;
  prepare?: PrepareRule;
}

/** The gradient of output i, which a rule requires to exist. */
export function requireDy(ctx: GradContext, i = 0): string {
  const g = ctx.dy(i);
  if (!g) throw new GraphError(`no gradient for output ${i} of ${ctx.node.op} node '${ctx.node.name}'`);
  return g;
}

/** An int64 tensor holding the runtime shape of `x`: a constant when static, else a Shape node. */
export function shapeOf(b: GraphBuilder, x: string): string {
  const s = b.shape(x);
  if (s.every((d) => typeof d === 'number')) return b.constInt64(s as number[], [s.length], 'shape');
  return b.op('Shape', [x]);
}

/** Reshape `g` to the shape of `like` (same number of elements). */
export function reshapeLike(b: GraphBuilder, g: string, like: string): string {
  return b.op('Reshape', [g, shapeOf(b, like)]);
}

/** Scalar float constant. */
export function scalar(b: GraphBuilder, v: number): string {
  return b.constFloat([v], [], 'scalar');
}

/** Per-channel vector [C] reshaped to broadcast against an NC... tensor of rank `rank`. */
export function channelBroadcast(b: GraphBuilder, v: string, channels: number, rank: number): string {
  const dims = [1, channels, ...new Array<number>(rank - 2).fill(1)];
  return b.op('Reshape', [v, b.constInt64(dims)]);
}

/** ReduceSum with constant axes (opset 13+: axes is an input). */
export function reduceSum(b: GraphBuilder, x: string, axes: number[], keepdims: boolean): string {
  return b.op('ReduceSum', [x, b.constInt64(axes)], { keepdims: attr.int(keepdims ? 1 : 0) });
}

/**
 * Sums a broadcast gradient back to the shape of the operand it came from (the adjoint of numpy
 * broadcasting): leading extra axes and axes where the operand has size 1 are reduced.
 */
export function unbroadcast(b: GraphBuilder, g: string, target: Shape, targetName: string): string {
  const gs = b.shape(g);
  const lead = gs.length - target.length;
  const axes: number[] = [];
  for (let i = 0; i < gs.length; i++) {
    if (i < lead) axes.push(i);
    else if (target[i - lead] === 1 && gs[i] !== 1) axes.push(i);
  }
  if (axes.length === 0 && lead === 0) return g;
  let r = reduceSum(b, g, axes, true);
  if (lead > 0) r = b.op('Reshape', [r, shapeOf(b, targetName)]);
  return r;
}

/** Float scalar holding the runtime element count of `x` divided by `divisor`. */
export function countOf(b: GraphBuilder, x: string, divisor = 1): string {
  const s = b.shape(x);
  if (s.every((d) => typeof d === 'number')) return scalar(b, (s as number[]).reduce((p, d) => p * d, 1) / divisor);
  const n = b.op('Cast', [b.op('Size', [x])], { to: attr.int(1) });
  return divisor === 1 ? n : b.op('Div', [n, scalar(b, divisor)]);
}

/** Zeros shaped like `x` (used when a multi-output node gets gradients on only some outputs). */
export function zerosLike(b: GraphBuilder, x: string): string {
  return b.op('ConstantOfShape', [shapeOf(b, x)], {
    value: attr.tensor({ dtype: 'float32', dims: [1], data: new Float32Array([0]) }),
  });
}

/** Static spatial sizes (dimensions after N and C) of an NCHW value. */
export function spatialDims(b: GraphBuilder, x: string): number[] {
  const s = b.shape(x).slice(2);
  if (s.some((d) => typeof d !== 'number')) throw new GraphError(`value '${x}' needs static spatial dimensions`);
  return s as number[];
}
