import { GraphBuilder, OPSET, type Graph } from './builder';
import { decodeModel } from './serialize';
import { ModelDecodeError } from './model-decode-error';
import { buildTrainingGraph } from './training';
import type { ConstTensor } from './types';

/** A forward model read from ONNX with its weights turned into graph inputs. */
export interface ImportedModel {
  /** Forward graph: data input, then parameters and buffers as inputs; logits as the first output. */
  graph: Graph;
  /** Name of the data input. */
  input: string;
  params: { name: string; shape: number[]; value: ConstTensor }[];
  buffers: { name: string; shape: number[]; value: ConstTensor }[];
}

/**
 * Reads a forward ONNX model (e.g. exported from PyTorch in eval mode). Float initializers read by nodes become
 * trainable parameters, except BatchNormalization's running mean and variance, which become buffers; integer
 * initializers (shapes, axes) stay constants. Shapes are inferred op by op, so an op without shape inference is
 * reported with its node.
 * @throws {ModelDecodeError} corrupt or unsupported file contents
 * @throws {UnsupportedOpError} an op the builder cannot infer shapes for
 */
export function importForwardModel(bytes: Uint8Array): ImportedModel {
  const m = decodeModel(bytes);
  if (m.inputs.length !== 1) {
    throw new ModelDecodeError(
      `expected exactly one data input, found ${m.inputs.length}: ${m.inputs.map((i) => i.name).join(', ')}`,
    );
  }
  if (m.outputs.length === 0) throw new ModelDecodeError('the model has no outputs');
  const bufferNames = new Set<string>();
  for (const n of m.nodes) {
    if (n.op === 'BatchNormalization')
      for (const i of n.inputs.slice(3, 5)) if (m.initializers.has(i)) bufferNames.add(i);
  }
  const b = new GraphBuilder(m.name);
  const input = m.inputs[0];
  b.input(input.name, input.dtype, input.shape);
  const params: ImportedModel['params'] = [];
  const buffers: ImportedModel['buffers'] = [];
  for (const [name, t] of m.initializers) {
    if (t.dtype !== 'float32') {
      b.addInitializer(name, t);
    } else if (bufferNames.has(name)) {
      buffers.push({ name, shape: t.dims, value: t });
      b.input(name, 'float32', t.dims);
    } else {
      params.push({ name, shape: t.dims, value: t });
      b.input(name, 'float32', t.dims);
    }
  }
  for (const n of m.nodes) b.addNode({ ...n, inputs: [...n.inputs], outputs: [...n.outputs], attrs: { ...n.attrs } });
  for (const o of m.outputs) {
    if (!b.has(o)) throw new ModelDecodeError(`graph output '${o}' is not produced by any node`);
    b.output(o);
  }
  const graph = { ...b.build(), opset: Math.max(OPSET, m.opset) };
  return { graph, input: input.name, params, buffers };
}

/**
 * Forward ONNX model bytes -> training graph (inputs: parameters, buffers, data, int64 `labels`; outputs: `loss`,
 * `grad:<param>`, `update:<buffer>`), differentiating with respect to every parameter.
 * @throws {UnsupportedOpError} an op on the path from the parameters to the loss has no gradient rule (names the node)
 */
export function importTrainingGraph(bytes: Uint8Array): { model: ImportedModel; training: Graph } {
  const model = importForwardModel(bytes);
  const training = buildTrainingGraph(model.graph, {
    params: model.params.map((p) => p.name),
    buffers: model.buffers.map((p) => p.name),
  });
  return { model, training: { ...training, opset: model.graph.opset } };
}
