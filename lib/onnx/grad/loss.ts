import { UnsupportedOpError } from '../unsupported-op-error';
import { stringAttr } from '../spatial';
import { attr, type GraphNode } from '../types';
import type { GraphBuilder } from '../builder';
import { requireDy, type GradContext } from './context';

/** SoftmaxCrossEntropyLoss also emits log-probabilities in the training graph; the backward pass reuses them. */
export function softmaxCrossEntropyPrepare(node: GraphNode, b: GraphBuilder): GraphNode {
  if (node.outputs.length > 1 && node.outputs[1]) return node;
  return { ...node, outputs: [node.outputs[0], b.fresh(`${node.outputs[0]}_log_prob`)] };
}

/** dScores = (softmax(scores) - onehot(labels)) * dLoss, divided by N for reduction 'mean'. */
export function softmaxCrossEntropyGrad(ctx: GradContext) {
  const { b, node } = ctx;
  const [scores, labels, weights] = node.inputs;
  if (weights) throw new UnsupportedOpError(node.op, node.name, 'class weights');
  if (node.attrs.ignore_index) throw new UnsupportedOpError(node.op, node.name, 'ignore_index');
  if (b.rank(scores) !== 2) throw new UnsupportedOpError(node.op, node.name, 'only [N, C] scores');
  const classes = b.shape(scores)[1];
  if (typeof classes !== 'number') throw new UnsupportedOpError(node.op, node.name, 'symbolic class count');
  const reduction = stringAttr(node.attrs, 'reduction', 'mean');
  const onehot = b.op('OneHot', [labels, b.constInt64([classes]), b.constFloat([0, 1])], { axis: attr.int(-1) });
  const diff = b.op('Sub', [b.op('Exp', [node.outputs[1]]), onehot]);
  const dloss = requireDy(ctx);
  let scale: string;
  if (reduction === 'mean') {
    const n = b.op('Cast', [b.op('Shape', [labels])], { to: attr.int(1) });
    scale = b.op('Div', [dloss, n]);
  } else if (reduction === 'sum') {
    scale = dloss;
  } else {
    scale = b.op('Unsqueeze', [dloss, b.constInt64([1])]);
  }
  return [b.op('Mul', [diff, scale]), undefined];
}
