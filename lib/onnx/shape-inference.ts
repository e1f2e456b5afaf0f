import { GraphError } from './graph-error';
import { intAttr, intsAttr, stringAttr, windowGeometry } from './spatial';
import { UnsupportedOpError } from './unsupported-op-error';
import type { DType, Dim, GraphNode, Shape, ValueInfo } from './types';

/**
 * What shape inference may know about the *values* of small 1-D int64 tensors: constants, and the output of
 * `Shape` (whose elements may be symbolic). Reshape, Expand, ConstantOfShape and friends need it.
 */
export type KnownValues = (name: string) => Dim[] | undefined;

export interface InferContext {
  node: GraphNode;
  inputs: (ValueInfo | undefined)[];
  known: KnownValues;
}

export interface InferResult {
  outputs: { dtype: DType; shape: Shape }[];
  /** Known element values of the first output (for Shape, Concat of shapes, constants). */
  value?: Dim[];
}

type InferFn = (ctx: InferContext) => InferResult;

function need(ctx: InferContext, i: number): ValueInfo {
  const v = ctx.inputs[i];
  if (!v) throw new GraphError(`${ctx.node.op} node '${ctx.node.name}' needs input ${i}`);
  return v;
}

function knownInts(ctx: InferContext, i: number, what: string): number[] {
  const name = ctx.node.inputs[i];
  const v = name ? ctx.known(name) : undefined;
  if (!v || v.some((d) => typeof d !== 'number')) {
    throw new GraphError(`${ctx.node.op} node '${ctx.node.name}': ${what} must be a constant`);
  }
  return v as number[];
}

function normAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new GraphError(`axis ${axis} out of range for rank ${rank}`);
  return a;
}

/** Multidirectional (numpy) broadcasting of shapes. */
export function broadcastShapes(a: Shape, b: Shape): Shape {
  const r = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < r; i++) {
    const da = i < r - a.length ? 1 : a[i - (r - a.length)];
    const db = i < r - b.length ? 1 : b[i - (r - b.length)];
    if (da === db) out.push(da);
    else if (da === 1) out.push(db);
    else if (db === 1) out.push(da);
    else if (typeof da === 'string') out.push(db);
    else if (typeof db === 'string') out.push(da);
    else throw new GraphError(`cannot broadcast [${a.join(', ')}] with [${b.join(', ')}]`);
  }
  return out;
}

const same: InferFn = (ctx) => ({ outputs: [{ ...need(ctx, 0) }] });

const elementwise: InferFn = (ctx) => {
  let shape = need(ctx, 0).shape;
  for (let i = 1; i < ctx.inputs.length; i++) shape = broadcastShapes(shape, need(ctx, i).shape);
  return { outputs: [{ dtype: need(ctx, 0).dtype, shape }] };
};

const compare: InferFn = (ctx) => ({ outputs: [{ dtype: 'bool', shape: elementwise(ctx).outputs[0].shape }] });

function spatialOf(x: ValueInfo, node: GraphNode): number[] {
  const sp = x.shape.slice(2);
  if (x.shape.length < 3 || sp.some((d) => typeof d !== 'number')) {
    throw new GraphError(`${node.op} node '${node.name}' needs static spatial dimensions, got [${x.shape.join(', ')}]`);
  }
  return sp as number[];
}

function staticDim(d: Dim, what: string): number {
  if (typeof d !== 'number') throw new GraphError(`${what} must be static`);
  return d;
}

const conv: InferFn = (ctx) => {
  const x = need(ctx, 0);
  const w = need(ctx, 1);
  const group = intAttr(ctx.node.attrs, 'group', 1);
  const cin = x.shape[1];
  // The weight-gradient convolution contracts over the (symbolic) batch axis, so only check static channels.
  if (typeof cin === 'number' && typeof w.shape[1] === 'number' && w.shape[1] * group !== cin) {
    throw new GraphError(
      `Conv node '${ctx.node.name}': weight [${w.shape.join(', ')}] with group ${group} does not fit ${cin} input channels`,
    );
  }
  const kernel = w.shape.slice(2).map((d) => staticDim(d, 'Conv kernel'));
  const g = windowGeometry(ctx.node.attrs, spatialOf(x, ctx.node), kernel);
  return { outputs: [{ dtype: x.dtype, shape: [x.shape[0], w.shape[0], ...g.out] }] };
};

const convTranspose: InferFn = (ctx) => {
  const x = need(ctx, 0);
  const w = need(ctx, 1);
  const group = intAttr(ctx.node.attrs, 'group', 1);
  const sp = spatialOf(x, ctx.node);
  const r = sp.length;
  const kernel = w.shape.slice(2).map((d) => staticDim(d, 'ConvTranspose kernel'));
  const explicit = intsAttr(ctx.node.attrs, 'output_shape', []);
  let out: number[];
  if (explicit.length > 0) {
    out = explicit.slice(-r);
  } else {
    const strides = intsAttr(ctx.node.attrs, 'strides', new Array<number>(r).fill(1));
    const dil = intsAttr(ctx.node.attrs, 'dilations', new Array<number>(r).fill(1));
    const pads = intsAttr(ctx.node.attrs, 'pads', new Array<number>(2 * r).fill(0));
    const op = intsAttr(ctx.node.attrs, 'output_padding', new Array<number>(r).fill(0));
    out = sp.map((s, i) => strides[i] * (s - 1) + op[i] + (kernel[i] - 1) * dil[i] + 1 - pads[i] - pads[i + r]);
  }
  const cout = staticDim(w.shape[1], 'ConvTranspose weight') * group;
  return { outputs: [{ dtype: x.dtype, shape: [x.shape[0], cout, ...out] }] };
};

const pool: InferFn = (ctx) => {
  const x = need(ctx, 0);
  const kernel = intsAttr(ctx.node.attrs, 'kernel_shape', []);
  const ceil = intAttr(ctx.node.attrs, 'ceil_mode', 0) === 1;
  const g = windowGeometry(ctx.node.attrs, spatialOf(x, ctx.node), kernel, ceil);
  const shape = [x.shape[0], x.shape[1], ...g.out];
  const outputs: InferResult['outputs'] = [{ dtype: x.dtype, shape }];
  if (ctx.node.outputs.length > 1) outputs.push({ dtype: 'int64', shape });
  return { outputs };
};

const globalPool: InferFn = (ctx) => {
  const x = need(ctx, 0);
  return { outputs: [{ dtype: x.dtype, shape: [x.shape[0], x.shape[1], ...x.shape.slice(2).map(() => 1)] }] };
};

const gemm: InferFn = (ctx) => {
  const a = need(ctx, 0);
  const b = need(ctx, 1);
  const ta = intAttr(ctx.node.attrs, 'transA', 0);
  const tb = intAttr(ctx.node.attrs, 'transB', 0);
  if (a.shape.length !== 2 || b.shape.length !== 2)
    throw new GraphError(`Gemm node '${ctx.node.name}' needs 2-D inputs`);
  const m = ta ? a.shape[1] : a.shape[0];
  const n = tb ? b.shape[0] : b.shape[1];
  return { outputs: [{ dtype: a.dtype, shape: [m, n] }] };
};

const matmul: InferFn = (ctx) => {
  const a = need(ctx, 0).shape;
  const b = need(ctx, 1).shape;
  if (a.length < 2 || b.length < 2) throw new UnsupportedOpError('MatMul', ctx.node.name, '1-D operands');
  const batch = broadcastShapes(a.slice(0, -2), b.slice(0, -2));
  return { outputs: [{ dtype: need(ctx, 0).dtype, shape: [...batch, a[a.length - 2], b[b.length - 1]] }] };
};

const batchNorm: InferFn = (ctx) => {
  const x = need(ctx, 0);
  const outputs: InferResult['outputs'] = [{ ...x }];
  const c = need(ctx, 1).shape;
  for (let i = 1; i < ctx.node.outputs.length; i++) outputs.push({ dtype: x.dtype, shape: c });
  return { outputs };
};

function reduceShape(x: Shape, axes: number[] | undefined, keep: boolean): Shape {
  const r = x.length;
  const set = new Set((axes ?? x.map((_, i) => i)).map((a) => normAxis(a, r)));
  const out: Dim[] = [];
  x.forEach((d, i) => {
    if (!set.has(i)) out.push(d);
    else if (keep) out.push(1);
  });
  return out;
}

const reduceAttr: InferFn = (ctx) => {
  const x = need(ctx, 0);
  // Opset 18 moved ReduceMean/ReduceMax axes from the attribute to an input.
  let axes = ctx.node.attrs.axes ? intsAttr(ctx.node.attrs, 'axes', []) : undefined;
  if (!axes && ctx.node.inputs[1]) axes = knownInts(ctx, 1, 'axes');
  return {
    outputs: [{ dtype: x.dtype, shape: reduceShape(x.shape, axes, intAttr(ctx.node.attrs, 'keepdims', 1) === 1) }],
  };
};

const reduceInput: InferFn = (ctx) => {
  const x = need(ctx, 0);
  const axes = ctx.node.inputs[1] ? knownInts(ctx, 1, 'axes') : undefined;
  const keep = intAttr(ctx.node.attrs, 'keepdims', 1) === 1;
  if (axes && axes.length === 0 && intAttr(ctx.node.attrs, 'noop_with_empty_axes', 0) === 1) return same(ctx);
  return { outputs: [{ dtype: x.dtype, shape: reduceShape(x.shape, axes && axes.length ? axes : undefined, keep) }] };
};

const reshape: InferFn = (ctx) => {
  const x = need(ctx, 0);
  const name = ctx.node.inputs[1];
  const target = name ? ctx.known(name) : undefined;
  if (!target) throw new GraphError(`Reshape node '${ctx.node.name}': target shape unknown`);
  const out = target.map((d, i) => (d === 0 && intAttr(ctx.node.attrs, 'allowzero', 0) === 0 ? x.shape[i] : d));
  const minus = out.indexOf(-1);
  if (minus >= 0) {
    const total = x.shape.every((d) => typeof d === 'number')
      ? (x.shape as number[]).reduce((p, d) => p * d, 1)
      : undefined;
    const rest = out.filter((_, i) => i !== minus);
    if (total !== undefined && rest.every((d) => typeof d === 'number')) {
      out[minus] = total / (rest as number[]).reduce((p, d) => p * d, 1);
    } else {
      // Dynamic batch: the -1 absorbs the symbolic dimension when the static parts agree.
      const sym = x.shape.filter((d) => typeof d === 'string');
      const xs = (x.shape.filter((d) => typeof d === 'number') as number[]).reduce((p, d) => p * d, 1);
      const rs = (rest.filter((d) => typeof d === 'number') as number[]).reduce((p, d) => p * d, 1);
      const restSym = rest.filter((d) => typeof d === 'string');
      if (sym.length === 1 && restSym.length === 0 && xs % rs === 0)
        out[minus] = xs / rs === 1 ? sym[0] : `${sym[0]}*${xs / rs}`;
      else if (sym.length === restSym.length && sym.every((s, i) => s === restSym[i])) out[minus] = xs / rs;
      else out[minus] = `${ctx.node.outputs[0]}_d${minus}`;
    }
  }
  // Reshaping a known shape vector (or scalar) into 1-D keeps its known elements.
  const value = out.length === 1 ? ctx.known(ctx.node.inputs[0]) : undefined;
  return { outputs: [{ dtype: x.dtype, shape: out }], value };
};

const flatten: InferFn = (ctx) => {
  const x = need(ctx, 0);
  const axis = normAxis(intAttr(ctx.node.attrs, 'axis', 1), x.shape.length + 1);
  const prod = (ds: Dim[]): Dim => {
    if (ds.every((d) => typeof d === 'number')) return (ds as number[]).reduce((p, d) => p * d, 1);
    const nums = (ds.filter((d) => typeof d === 'number') as number[]).reduce((p, d) => p * d, 1);
    const syms = ds.filter((d) => typeof d === 'string') as string[];
    return nums === 1 && syms.length === 1 ? syms[0] : `${syms.join('*')}*${nums}`;
  };
  return { outputs: [{ dtype: x.dtype, shape: [prod(x.shape.slice(0, axis)), prod(x.shape.slice(axis))] }] };
};

const transpose: InferFn = (ctx) => {
  const x = need(ctx, 0);
  const perm = intsAttr(
    ctx.node.attrs,
    'perm',
    x.shape.map((_, i) => x.shape.length - 1 - i),
  );
  return { outputs: [{ dtype: x.dtype, shape: perm.map((p) => x.shape[p]) }] };
};

const concat: InferFn = (ctx) => {
  const first = need(ctx, 0);
  const axis = normAxis(intAttr(ctx.node.attrs, 'axis', 0), first.shape.length);
  const shape = [...first.shape];
  let total: Dim = 0;
  for (let i = 0; i < ctx.inputs.length; i++) {
    const d = need(ctx, i).shape[axis];
    total = typeof total === 'number' && typeof d === 'number' ? total + d : `${ctx.node.outputs[0]}_concat`;
  }
  shape[axis] = total;
  let value: Dim[] | undefined;
  if (first.shape.length === 1 && first.dtype === 'int64') {
    const parts = ctx.node.inputs.map((n) => ctx.known(n));
    if (parts.every((p) => p !== undefined)) value = (parts as Dim[][]).flat();
  }
  return { outputs: [{ dtype: first.dtype, shape }], value };
};

const split: InferFn = (ctx) => {
  const x = need(ctx, 0);
  const axis = normAxis(intAttr(ctx.node.attrs, 'axis', 0), x.shape.length);
  const n = ctx.node.outputs.length;
  let sizes: number[];
  if (ctx.node.inputs[1]) sizes = knownInts(ctx, 1, 'split');
  else if (ctx.node.attrs.split) sizes = intsAttr(ctx.node.attrs, 'split', []);
  else sizes = new Array<number>(n).fill(staticDim(x.shape[axis], 'Split axis') / n);
  return {
    outputs: sizes.map((s) => {
      const shape = [...x.shape];
      shape[axis] = s;
      return { dtype: x.dtype, shape };
    }),
  };
};

const sliceInfer: InferFn = (ctx) => {
  const x = need(ctx, 0);
  const axes = ctx.node.inputs[3] ? knownInts(ctx, 3, 'axes') : knownInts(ctx, 1, 'starts').map((_, i) => i);
  const steps = ctx.node.inputs[4] ? knownInts(ctx, 4, 'steps') : axes.map(() => 1);
  const symbolic = axes.map((a) => typeof x.shape[normAxis(a, x.shape.length)] !== 'number');
  // Bounds computed at run time are allowed when every sliced axis is symbolic (batch chunks).
  const dynamic = symbolic.every(Boolean);
  const starts = dynamic ? [] : knownInts(ctx, 1, 'starts');
  const ends = dynamic ? [] : knownInts(ctx, 2, 'ends');
  const shape = [...x.shape];
  axes.forEach((a0, i) => {
    const a = normAxis(a0, x.shape.length);
    if (symbolic[i]) {
      // A slice of a symbolic (batch-dependent) axis gets a fresh symbol.
      shape[a] = `${ctx.node.outputs[0]}_d${a}`;
      return;
    }
    const dim = x.shape[a] as number;
    const step = steps[i];
    if (step === 0) throw new GraphError(`Slice node '${ctx.node.name}': step 0`);
    const wrap = (v: number) => (v < 0 ? v + dim : v);
    // ONNX clamps to [0, dim] for positive steps and to [-1, dim - 1] for negative ones.
    const lo = step > 0 ? 0 : -1;
    const hi = step > 0 ? dim : dim - 1;
    const s = Math.min(Math.max(wrap(starts[i]), lo), hi);
    const e = Math.min(Math.max(wrap(ends[i]), lo), hi);
    shape[a] = Math.max(0, Math.ceil((e - s) / step));
  });
  return { outputs: [{ dtype: x.dtype, shape }] };
};

const spaceToDepth: InferFn = (ctx) => {
  const x = need(ctx, 0);
  const k = intAttr(ctx.node.attrs, 'blocksize', 0);
  if (x.shape.length !== 4 || k < 1)
    throw new GraphError(`SpaceToDepth node '${ctx.node.name}': needs rank 4 and blocksize`);
  const [n, c, h, w] = x.shape;
  const dims = [c, h, w].map((d) => staticDim(d, 'SpaceToDepth dimension'));
  if (dims[1] % k !== 0 || dims[2] % k !== 0) {
    throw new GraphError(`SpaceToDepth node '${ctx.node.name}': ${dims[1]}x${dims[2]} is not a multiple of ${k}`);
  }
  return { outputs: [{ dtype: x.dtype, shape: [n, dims[0] * k * k, dims[1] / k, dims[2] / k] }] };
};

const pad: InferFn = (ctx) => {
  const x = need(ctx, 0);
  const pads = knownInts(ctx, 1, 'pads');
  const r = x.shape.length;
  if (ctx.node.inputs[3]) throw new UnsupportedOpError('Pad', ctx.node.name, 'axes input');
  const shape = x.shape.map((d, i) =>
    typeof d === 'number'
      ? d + pads[i] + pads[i + r]
      : pads[i] + pads[i + r] === 0
        ? d
        : `${ctx.node.outputs[0]}_d${i}`,
  );
  return { outputs: [{ dtype: x.dtype, shape }] };
};

const unsqueeze: InferFn = (ctx) => {
  const x = need(ctx, 0);
  const axes = ctx.node.inputs[1] ? knownInts(ctx, 1, 'axes') : intsAttr(ctx.node.attrs, 'axes', []);
  const r = x.shape.length + axes.length;
  const set = new Set(axes.map((a) => normAxis(a, r)));
  const out: Dim[] = [];
  let j = 0;
  for (let i = 0; i < r; i++) out.push(set.has(i) ? 1 : x.shape[j++]);
  return { outputs: [{ dtype: x.dtype, shape: out }] };
};

const squeeze: InferFn = (ctx) => {
  const x = need(ctx, 0);
  const axes = ctx.node.inputs[1] ? knownInts(ctx, 1, 'axes') : intsAttr(ctx.node.attrs, 'axes', []);
  const set = new Set(axes.map((a) => normAxis(a, x.shape.length)));
  return { outputs: [{ dtype: x.dtype, shape: x.shape.filter((d, i) => (set.size ? !set.has(i) : d !== 1)) }] };
};

const shapeOp: InferFn = (ctx) => {
  const x = need(ctx, 0);
  const r = x.shape.length;
  let start = intAttr(ctx.node.attrs, 'start', 0);
  let end = intAttr(ctx.node.attrs, 'end', r);
  if (start < 0) start += r;
  if (end < 0) end += r;
  const value = x.shape.slice(start, end);
  return { outputs: [{ dtype: 'int64', shape: [value.length] }], value };
};

const expand: InferFn = (ctx) => {
  const x = need(ctx, 0);
  const target = ctx.known(ctx.node.inputs[1]);
  if (!target) throw new GraphError(`Expand node '${ctx.node.name}': target shape unknown`);
  return { outputs: [{ dtype: x.dtype, shape: broadcastShapes(x.shape, target) }] };
};

const constantOfShape: InferFn = (ctx) => {
  const target = ctx.known(ctx.node.inputs[0]);
  if (!target) throw new GraphError(`ConstantOfShape node '${ctx.node.name}': shape unknown`);
  const v = ctx.node.attrs.value;
  const dtype = v && v.kind === 'tensor' ? v.value.dtype : 'float32';
  return { outputs: [{ dtype, shape: target }] };
};

const DTYPE_BY_ONNX: Record<number, DType> = {
  1: 'float32',
  2: 'uint8',
  6: 'int32',
  7: 'int64',
  9: 'bool',
  11: 'float64',
};

const cast: InferFn = (ctx) => {
  const to = DTYPE_BY_ONNX[intAttr(ctx.node.attrs, 'to', 1)];
  if (!to) throw new UnsupportedOpError('Cast', ctx.node.name, 'target type');
  return { outputs: [{ dtype: to, shape: need(ctx, 0).shape }], value: ctx.known(ctx.node.inputs[0]) };
};

const where: InferFn = (ctx) => ({
  outputs: [
    {
      dtype: need(ctx, 1).dtype,
      shape: broadcastShapes(broadcastShapes(need(ctx, 0).shape, need(ctx, 1).shape), need(ctx, 2).shape),
    },
  ],
});

const oneHot: InferFn = (ctx) => {
  const idx = need(ctx, 0);
  const depth = knownInts(ctx, 1, 'depth')[0];
  const axis = normAxis(intAttr(ctx.node.attrs, 'axis', -1), idx.shape.length + 1);
  const shape = [...idx.shape];
  shape.splice(axis, 0, depth);
  return { outputs: [{ dtype: need(ctx, 2).dtype, shape }] };
};

const einsum: InferFn = (ctx) => {
  const eq = stringAttr(ctx.node.attrs, 'equation', '').replace(/\s/g, '');
  const [lhs, rhs] = eq.split('->');
  if (rhs === undefined || eq.includes('.'))
    throw new UnsupportedOpError('Einsum', ctx.node.name, 'needs an explicit output, no ellipsis');
  const dims = new Map<string, Dim>();
  lhs.split(',').forEach((term, i) => {
    const s = need(ctx, i).shape;
    if (term.length !== s.length) throw new GraphError(`Einsum term ${term} does not match rank ${s.length}`);
    [...term].forEach((c, j) => {
      const prev = dims.get(c);
      if (prev === undefined || prev === 1) dims.set(c, s[j]);
    });
  });
  return { outputs: [{ dtype: need(ctx, 0).dtype, shape: [...rhs].map((c) => dims.get(c) ?? 1) }] };
};

const softmaxCrossEntropy: InferFn = (ctx) => {
  const x = need(ctx, 0);
  const reduction = stringAttr(ctx.node.attrs, 'reduction', 'mean');
  const lossShape = reduction === 'none' ? need(ctx, 1).shape : [];
  const outputs: InferResult['outputs'] = [{ dtype: x.dtype, shape: lossShape }];
  if (ctx.node.outputs.length > 1) outputs.push({ dtype: x.dtype, shape: x.shape });
  return { outputs };
};

const argMax: InferFn = (ctx) => {
  const x = need(ctx, 0);
  const axis = intAttr(ctx.node.attrs, 'axis', 0);
  return {
    outputs: [{ dtype: 'int64', shape: reduceShape(x.shape, [axis], intAttr(ctx.node.attrs, 'keepdims', 1) === 1) }],
  };
};

const gather: InferFn = (ctx) => {
  const x = need(ctx, 0);
  const idx = need(ctx, 1);
  const axis = normAxis(intAttr(ctx.node.attrs, 'axis', 0), x.shape.length);
  const shape = [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)];
  let value: Dim[] | undefined;
  const xv = ctx.known(ctx.node.inputs[0]);
  const iv = ctx.known(ctx.node.inputs[1]);
  if (xv && iv && x.shape.length === 1 && iv.every((d) => typeof d === 'number')) {
    value = (iv as number[]).map((i) => xv[i < 0 ? i + xv.length : i]);
  }
  return { outputs: [{ dtype: x.dtype, shape }], value };
};

const dropout: InferFn = (ctx) => {
  const x = need(ctx, 0);
  const outputs: InferResult['outputs'] = [{ ...x }];
  if (ctx.node.outputs.length > 1) outputs.push({ dtype: 'bool', shape: x.shape });
  return { outputs };
};

const maxUnpool: InferFn = (ctx) => {
  const x = need(ctx, 0);
  const target = ctx.node.inputs[2] ? ctx.known(ctx.node.inputs[2]) : undefined;
  if (!target) throw new GraphError(`MaxUnpool node '${ctx.node.name}' needs a known output_shape input`);
  return { outputs: [{ dtype: x.dtype, shape: target }] };
};

const constant: InferFn = (ctx) => {
  const v = ctx.node.attrs.value;
  if (!v || v.kind !== 'tensor')
    throw new UnsupportedOpError('Constant', ctx.node.name, 'only the value attribute is supported');
  const t = v.value;
  const value = t.dtype === 'int64' && t.dims.length <= 1 ? Array.from(t.data as BigInt64Array, Number) : undefined;
  return { outputs: [{ dtype: t.dtype, shape: t.dims }], value };
};

const range: InferFn = (ctx) => ({ outputs: [{ dtype: need(ctx, 0).dtype, shape: [`${ctx.node.outputs[0]}_len`] }] });

const size: InferFn = (ctx) => {
  const x = need(ctx, 0).shape;
  const nums = (x.filter((d) => typeof d === 'number') as number[]).reduce((p, d) => p * d, 1);
  const syms = x.filter((d) => typeof d === 'string');
  const value: Dim = syms.length === 0 ? nums : nums === 1 && syms.length === 1 ? syms[0] : `${syms.join('*')}*${nums}`;
  return { outputs: [{ dtype: 'int64', shape: [] }], value: [value] };
};

const hardmaxLike: InferFn = same;

/** Shape functions per op type; the same table decides which ops the builder accepts. */
export const SHAPE_FUNCTIONS: Record<string, InferFn> = {
  Identity: same,
  Relu: same,
  Sigmoid: same,
  Tanh: same,
  HardSigmoid: same,
  HardSwish: same,
  Exp: same,
  Log: same,
  Neg: same,
  Sqrt: same,
  Reciprocal: same,
  Abs: same,
  Sign: same,
  Clip: same,
  Softmax: hardmaxLike,
  LogSoftmax: hardmaxLike,
  Add: elementwise,
  Sub: elementwise,
  Mul: elementwise,
  Div: elementwise,
  Pow: elementwise,
  Sum: elementwise,
  Max: elementwise,
  Min: elementwise,
  Greater: compare,
  Less: compare,
  Equal: compare,
  GreaterOrEqual: compare,
  LessOrEqual: compare,
  Not: same,
  And: compare,
  Or: compare,
  SpaceToDepth: spaceToDepth,
  Where: where,
  Conv: conv,
  ConvTranspose: convTranspose,
  MaxPool: pool,
  AveragePool: pool,
  MaxUnpool: maxUnpool,
  GlobalAveragePool: globalPool,
  GlobalMaxPool: globalPool,
  Gemm: gemm,
  MatMul: matmul,
  BatchNormalization: batchNorm,
  ReduceMean: reduceAttr,
  ReduceMax: reduceAttr,
  ReduceSum: reduceInput,
  Reshape: reshape,
  Flatten: flatten,
  Transpose: transpose,
  Concat: concat,
  Split: split,
  Slice: sliceInfer,
  Pad: pad,
  Unsqueeze: unsqueeze,
  Squeeze: squeeze,
  Shape: shapeOp,
  Size: size,
  Expand: expand,
  ConstantOfShape: constantOfShape,
  Constant: constant,
  Cast: cast,
  OneHot: oneHot,
  Einsum: einsum,
  ScatterElements: same,
  GatherElements: (ctx) => ({ outputs: [{ dtype: need(ctx, 0).dtype, shape: need(ctx, 1).shape }] }),
  Gather: gather,
  SoftmaxCrossEntropyLoss: softmaxCrossEntropy,
  ArgMax: argMax,
  Dropout: dropout,
  Range: range,
};

export function inferNode(ctx: InferContext): InferResult {
  const fn = SHAPE_FUNCTIONS[ctx.node.op];
  if (!fn) throw new UnsupportedOpError(ctx.node.op, ctx.node.name, 'no shape inference for this op');
  const r = fn(ctx);
  if (r.outputs.length < ctx.node.outputs.filter((o) => o !== '').length) {
    throw new GraphError(`${ctx.node.op} node '${ctx.node.name}': too many outputs requested`);
  }
  return r;
}
