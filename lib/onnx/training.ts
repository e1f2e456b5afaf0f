import { GraphBuilder, type Graph } from './builder';
import { buildGradientGraph, gradName } from './autodiff';
import { GraphError } from './graph-error';
import { countOf } from './grad/context';
import { floatAttr, intAttr } from './spatial';
import { attr, type GraphNode } from './types';

/** Output name of the updated value of a buffer (batch-norm running statistic) in a training graph. */
export function bufferUpdateName(buffer: string): string {
  return `update:${buffer}`;
}

export const LOSS = 'loss';
export const LABELS = 'labels';
export const CORRECT = 'correct';

export interface TrainingGraphOptions {
  /** Trainable parameters (graph inputs) to differentiate. */
  params: string[];
  /** Non-trainable buffers (graph inputs): batch-norm running means and variances. */
  buffers: string[];
  /** The forward output holding the class scores [N, classes]. @default the first graph output */
  logits?: string;
}

/**
 * Rewrites a forward (inference-form) graph into its training forward: every BatchNormalization uses batch
 * statistics (training_mode = 1 with momentum 0, so its extra outputs are the batch mean and biased variance)
 * and the running statistics are updated PyTorch-style, running = (1 - m) running + m batch (unbiased variance
 * for the running one), with m = 1 - the ONNX momentum attribute. Adds the mean cross-entropy loss on int64
 * labels. Buffer updates appear as `update:<buffer>` values.
 */
export function trainingForward(forward: Graph, opts: TrainingGraphOptions): { graph: Graph; updates: string[] } {
  const b = new GraphBuilder(forward.name);
  b.reserveNames(forward);
  for (const i of forward.inputs) b.input(i.name, i.dtype, i.shape);
  const logits = opts.logits ?? forward.outputs[0]?.name;
  if (!logits) throw new GraphError('forward graph has no output');
  const batchDim = forward.values.get(logits)?.shape[0] ?? 'N';
  b.input(LABELS, 'int64', [batchDim]);
  for (const [n, t] of forward.initializers) b.addInitializer(n, t);
  const buffers = new Set(opts.buffers);
  const updates = new Map<string, string>();
  for (const node of forward.nodes) {
    if (node.op !== 'BatchNormalization' || intAttr(node.attrs, 'training_mode', 0) === 1) {
      b.addNode({ ...node, inputs: [...node.inputs], outputs: [...node.outputs], attrs: { ...node.attrs } });
      continue;
    }
    const [x, , , runMean, runVar] = node.inputs;
    const y = node.outputs[0];
    // With momentum 0 the running-statistic inputs do not affect the outputs, but onnxruntime computes BN's
    // statistic outputs in place of those inputs. Feeding the real running statistics let it clobber them before
    // the update below read them, and a constant would be merged with equal constants elsewhere in the graph and
    // clobbered for every reader. So each BN gets private tensors computed at run time (0 * scale, 0 * scale + 1).
    const channels = b.shape(x)[1] as number;
    const privateZeros = b.op('Mul', [node.inputs[1], b.constFloat([0], [])]);
    const bn: GraphNode = {
      op: 'BatchNormalization',
      name: node.name,
      inputs: [
        node.inputs[0],
        node.inputs[1],
        node.inputs[2],
        privateZeros,
        b.op('Add', [privateZeros, b.constFloat([1], [])]),
      ],
      outputs: [y, b.fresh(`${y}_batch_mean`), b.fresh(`${y}_batch_var`)],
      attrs: { ...node.attrs, training_mode: attr.int(1), momentum: attr.float(0) },
    };
    b.addNode(bn);
    if (!buffers.has(runMean) || !buffers.has(runVar)) continue;
    const m = 1 - floatAttr(node.attrs, 'momentum', 0.9);
    const perChannel = countOf(b, x, channels);
    const unbias = b.op('Div', [perChannel, b.op('Sub', [perChannel, b.constFloat([1], [])])]);
    const keep = b.constFloat([1 - m], []);
    const take = b.constFloat([m], []);
    updates.set(runMean, b.op('Add', [b.op('Mul', [runMean, keep]), b.op('Mul', [bn.outputs[1], take])]));
    updates.set(
      runVar,
      b.op('Add', [b.op('Mul', [runVar, keep]), b.op('Mul', [b.op('Mul', [bn.outputs[2], unbias]), take])]),
    );
  }
  b.addNode({
    op: 'SoftmaxCrossEntropyLoss',
    name: 'loss',
    inputs: [logits, LABELS],
    outputs: [LOSS],
    attrs: { reduction: attr.string('mean') },
  });
  const names: string[] = [];
  for (const buf of opts.buffers) {
    const u = updates.get(buf);
    // A buffer no BatchNormalization updates keeps its value.
    b.addNode({
      op: 'Identity',
      name: b.fresh(`update_${buf}`),
      inputs: [u ?? buf],
      outputs: [bufferUpdateName(buf)],
      attrs: {},
    });
    names.push(bufferUpdateName(buf));
  }
  b.output(LOSS);
  for (const n of names) b.output(n);
  return { graph: b.build(), updates: names };
}

/**
 * The training graph: inputs = parameters + buffers + images + labels; outputs = `loss` (mean cross-entropy),
 * `grad:<param>` for every parameter, `update:<buffer>` for every buffer.
 */
export function buildTrainingGraph(forward: Graph, opts: TrainingGraphOptions): Graph {
  const { graph, updates } = trainingForward(forward, opts);
  return buildGradientGraph(graph, { loss: LOSS, wrt: opts.params, keep: updates });
}

/**
 * The evaluation graph: the inference-form forward plus `loss` (summed cross-entropy over the batch) and
 * `correct` (number of arg-max predictions equal to the label, as float).
 */
export function buildEvaluationGraph(forward: Graph, logits = forward.outputs[0]?.name): Graph {
  if (!logits) throw new GraphError('forward graph has no output');
  const b = GraphBuilder.from(forward);
  b.input(LABELS, 'int64', [forward.values.get(logits)?.shape[0] ?? 'N']);
  b.addNode({
    op: 'SoftmaxCrossEntropyLoss',
    name: 'loss',
    inputs: [logits, LABELS],
    outputs: [LOSS],
    attrs: { reduction: attr.string('sum') },
  });
  const pred = b.op('ArgMax', [logits], { axis: attr.int(1), keepdims: attr.int(0) });
  const hit = b.op('Cast', [b.op('Equal', [pred, LABELS])], { to: attr.int(1) });
  b.addNode({ op: 'ReduceSum', name: 'correct', inputs: [hit], outputs: [CORRECT], attrs: { keepdims: attr.int(0) } });
  b.output(LOSS);
  b.output(CORRECT);
  return b.build();
}

export { gradName };
