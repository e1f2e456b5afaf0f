import { requireDy, scalar, unbroadcast, type GradContext } from './context';

function operand(ctx: GradContext, i: number) {
  const name = ctx.node.inputs[i];
  return { name, shape: ctx.b.shape(name) };
}

export function addGrad(ctx: GradContext) {
  const dy = requireDy(ctx);
  return [0, 1].map((i) =>
    ctx.needs(i) ? unbroadcast(ctx.b, dy, operand(ctx, i).shape, operand(ctx, i).name) : undefined,
  );
}

export function subGrad(ctx: GradContext) {
  const dy = requireDy(ctx);
  const a = operand(ctx, 0);
  const c = operand(ctx, 1);
  return [
    ctx.needs(0) ? unbroadcast(ctx.b, dy, a.shape, a.name) : undefined,
    ctx.needs(1) ? ctx.b.op('Neg', [unbroadcast(ctx.b, dy, c.shape, c.name)]) : undefined,
  ];
}

export function mulGrad(ctx: GradContext) {
  const dy = requireDy(ctx);
  const a = operand(ctx, 0);
  const c = operand(ctx, 1);
  return [
    ctx.needs(0) ? unbroadcast(ctx.b, ctx.b.op('Mul', [dy, c.name]), a.shape, a.name) : undefined,
    ctx.needs(1) ? unbroadcast(ctx.b, ctx.b.op('Mul', [dy, a.name]), c.shape, c.name) : undefined,
  ];
}

/** y = a / c: da = dy / c, dc = -dy * y / c. */
export function divGrad(ctx: GradContext) {
  const dy = requireDy(ctx);
  const a = operand(ctx, 0);
  const c = operand(ctx, 1);
  const y = ctx.node.outputs[0];
  const dyOverC = ctx.b.op('Div', [dy, c.name]);
  return [
    ctx.needs(0) ? unbroadcast(ctx.b, dyOverC, a.shape, a.name) : undefined,
    ctx.needs(1) ? unbroadcast(ctx.b, ctx.b.op('Neg', [ctx.b.op('Mul', [dyOverC, y])]), c.shape, c.name) : undefined,
  ];
}

/** Variadic Sum with broadcasting. */
export function sumGrad(ctx: GradContext) {
  const dy = requireDy(ctx);
  return ctx.node.inputs.map((_, i) =>
    ctx.needs(i) ? unbroadcast(ctx.b, dy, operand(ctx, i).shape, operand(ctx, i).name) : undefined,
  );
}

export function negGrad(ctx: GradContext) {
  return [ctx.b.op('Neg', [requireDy(ctx)])];
}

export function identityGrad(ctx: GradContext) {
  return [requireDy(ctx)];
}

/** y = exp(x): dx = dy * y. */
export function expGrad(ctx: GradContext) {
  return [ctx.b.op('Mul', [requireDy(ctx), ctx.node.outputs[0]])];
}

/** y = log(x): dx = dy / x. */
export function logGrad(ctx: GradContext) {
  return [ctx.b.op('Div', [requireDy(ctx), ctx.node.inputs[0]])];
}

/** y = sqrt(x): dx = dy / (2 y). */
export function sqrtGrad(ctx: GradContext) {
  return [ctx.b.op('Div', [requireDy(ctx), ctx.b.op('Mul', [ctx.node.outputs[0], scalar(ctx.b, 2)])])];
}
