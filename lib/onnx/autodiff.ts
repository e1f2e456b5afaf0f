import { GraphBuilder, type Graph } from './builder';
import { GraphError } from './graph-error';
import { UnsupportedOpError } from './unsupported-op-error';
import { GRADIENTS } from './grad';
import { zerosLike, type GradContext, type PoolMembers } from './grad/context';

export interface GradientGraphOptions {
  /** Name of the scalar value to differentiate. */
  loss: string;
  /** Values (normally graph inputs holding parameters) to differentiate with respect to. */
  wrt: string[];
  /** Other forward values to expose as outputs (e.g. updated batch-norm statistics). */
  keep?: string[];
}

/** Output name of the gradient of `param` in a gradient graph. */
export function gradName(param: string): string {
  return `grad:${param}`;
}

/** Values whose gradient can be non-zero: float values computed from a `wrt` value. */
function differentiableValues(g: Graph, wrt: string[]): Set<string> {
  const live = new Set(wrt);
  for (const n of g.nodes) {
    if (!n.inputs.some((i) => live.has(i))) continue;
    for (const o of n.outputs) {
      const v = g.values.get(o);
      if (o && v && (v.dtype === 'float32' || v.dtype === 'float64')) live.add(o);
    }
  }
  return live;
}

/**
 * Reverse-mode automatic differentiation over a forward graph. Returns one graph that computes the forward
 * values, the loss and `grad:<name>` for every `wrt` value, using standard ONNX ops only. Each op's backward
 * comes from its rule in `grad/`; an op on the differentiated path without a rule is an UnsupportedOpError that
 * names the op and the node.
 * @throws {UnsupportedOpError} an op on the path from `wrt` to the loss has no gradient rule
 * @throws {GraphError} the loss is not a scalar or a name is unknown
 */
export function buildGradientGraph(forward: Graph, opts: GradientGraphOptions): Graph {
  const b = new GraphBuilder(`${forward.name}_training`);
  b.reserveNames(forward);
  for (const i of forward.inputs) b.input(i.name, i.dtype, i.shape);
  for (const [n, t] of forward.initializers) b.addInitializer(n, t);
  for (const node of forward.nodes) {
    const rule = GRADIENTS[node.op];
    const copy = { ...node, inputs: [...node.inputs], outputs: [...node.outputs], attrs: { ...node.attrs } };
    b.addNode(rule?.prepare ? rule.prepare(copy, b) : copy);
  }
  const lossInfo = b.info(opts.loss);
  if (lossInfo.shape.length > 1 || (lossInfo.shape.length === 1 && lossInfo.shape[0] !== 1)) {
    throw new GraphError(`loss '${opts.loss}' must be a scalar, got shape [${lossInfo.shape.join(', ')}]`);
  }
  for (const w of opts.wrt) b.info(w);
  const forwardGraph = b.build();
  const live = differentiableValues(forwardGraph, opts.wrt);
  if (!live.has(opts.loss)) throw new GraphError(`loss '${opts.loss}' does not depend on any differentiated value`);

  const pending = new Map<string, string[]>();
  const push = (name: string, g: string) => {
    const list = pending.get(name);
    if (list) list.push(g);
    else pending.set(name, [g]);
  };
  const take = (name: string): string | undefined => {
    const list = pending.get(name);
    if (!list || list.length === 0) return undefined;
    if (list.length > 1) pending.set(name, [b.op('Sum', list)]);
    return pending.get(name)![0];
  };
  push(opts.loss, b.constFloat([1], lossInfo.shape as number[], 'loss_seed'));
  const memberForms = new Map<string, PoolMembers>();

  for (let k = forwardGraph.nodes.length - 1; k >= 0; k--) {
    const node = forwardGraph.nodes[k];
    if (!node.outputs.some((o) => pending.has(o))) continue;
    if (!node.inputs.some((i) => live.has(i))) continue;
    const rule = GRADIENTS[node.op];
    if (!rule) throw new UnsupportedOpError(node.op, node.name, 'no gradient rule');
    const ctx: GradContext = {
      b,
      node,
      dy: (i = 0) => take(node.outputs[i]),
      needs: (i) => live.has(node.inputs[i]),
      offerMembers: (dx, form) => memberForms.set(dx, form),
      membersOf: (dy) => memberForms.get(dy),
    };
    const grads = rule.grad(ctx);
    grads.forEach((g, i) => {
      const input = node.inputs[i];
      if (g && input && live.has(input)) push(input, g);
    });
  }

  b.output(opts.loss);
  for (const w of opts.wrt) {
    const g = take(w) ?? zerosLike(b, w);
    b.addNode({ op: 'Identity', name: b.fresh(`grad_${w}`), inputs: [g], outputs: [gradName(w)], attrs: {} });
    b.output(gradName(w));
  }
  for (const k of opts.keep ?? []) b.output(k);
  b.pruneDead();
  return b.build();
}
