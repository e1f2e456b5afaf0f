import { intAttr, floatAttr } from '../spatial';
import { attr } from '../types';
import { requireDy, scalar, unbroadcast, type GradContext } from './context';

function gemm(ctx: GradContext, a: string, c: string, transA: number, transB: number, alpha: number): string {
  const attrs = { transA: attr.int(transA), transB: attr.int(transB), alpha: attr.float(alpha) };
  return ctx.b.op('Gemm', [a, c], attrs);
}

/** Gemm Y = alpha A' B' + beta C, where A' = A or A^T and B' = B or B^T. Each case is one Gemm. */
export function gemmGrad(ctx: GradContext) {
  const [a, bm, c] = ctx.node.inputs;
  const ta = intAttr(ctx.node.attrs, 'transA', 0);
  const tb = intAttr(ctx.node.attrs, 'transB', 0);
  const alpha = floatAttr(ctx.node.attrs, 'alpha', 1);
  const beta = floatAttr(ctx.node.attrs, 'beta', 1);
  const dy = requireDy(ctx);
  let da: string | undefined;
  let db: string | undefined;
  let dc: string | undefined;
  if (ctx.needs(0)) {
    // dA' = alpha dY B'^T; transposed back when A was transposed.
    da = ta === 0 ? gemm(ctx, dy, bm, 0, tb === 0 ? 1 : 0, alpha) : gemm(ctx, bm, dy, tb, 1, alpha);
  }
  if (ctx.needs(1)) {
    // dB' = alpha A'^T dY; transposed back when B was transposed.
    db = tb === 0 ? gemm(ctx, a, dy, ta === 0 ? 1 : 0, 0, alpha) : gemm(ctx, dy, a, 1, ta, alpha);
  }
  if (c && ctx.needs(2)) {
    dc = unbroadcast(ctx.b, dy, ctx.b.shape(c), c);
    if (beta !== 1) dc = ctx.b.op('Mul', [dc, scalar(ctx.b, beta)]);
  }
  return [da, db, dc];
}

function swapLast(ctx: GradContext, x: string): string {
  const r = ctx.b.rank(x);
  const perm = Array.from({ length: r }, (_, i) => i);
  perm[r - 1] = r - 2;
  perm[r - 2] = r - 1;
  return ctx.b.op('Transpose', [x], { perm: attr.ints(perm) });
}

/** MatMul with batch broadcasting: dA = dY B^T, dB = A^T dY, each summed over broadcast batch axes. */
export function matmulGrad(ctx: GradContext) {
  const [a, bm] = ctx.node.inputs;
  const dy = requireDy(ctx);
  return [
    ctx.needs(0) ? unbroadcast(ctx.b, ctx.b.op('MatMul', [dy, swapLast(ctx, bm)]), ctx.b.shape(a), a) : undefined,
    ctx.needs(1) ? unbroadcast(ctx.b, ctx.b.op('MatMul', [swapLast(ctx, a), dy]), ctx.b.shape(bm), bm) : undefined,
  ];
}
