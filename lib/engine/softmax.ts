// Softmax regression with a hand-written ONNX training graph: the smallest model, kept for fast tests.
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { mulberry32 } from '../data/partition';
import { TensorError } from '../errors/tensor-error';
import { buildLayout, sliceLayout } from './layout';
import type { Trainer } from './trainer';

const INPUTS = 784;
const CLASSES = 10;
const F = onnx.TensorProto.DataType.FLOAT;
const I64 = onnx.TensorProto.DataType.INT64;

function valueInfo(name: string, elemType: number, dims: (number | string)[]): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function node(opType: string, input: string[], output: string[], attribute: onnx.IAttributeProto[] = []): onnx.INodeProto {
  return { opType, input, output, name: `${opType}_${output[0]}`, attribute };
}

function intAttr(name: string, i: number): onnx.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INT, i };
}

function encodeModel(graph: onnx.IGraphProto): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'spirt',
    opsetImport: [{ domain: '', version: 17 }],
    graph,
  });
  return onnx.ModelProto.encode(model).finish();
}

/** Training graph: loss and gradients of mean cross-entropy of softmax(x W + b). */
export function softmaxTrainingGraph(): Uint8Array {
  const consts: onnx.ITensorProto[] = [
    { name: 'axes0', dataType: I64, dims: [1], int64Data: [0] },
    { name: 'idx0', dataType: I64, dims: [], int64Data: [0] },
    { name: 'depth', dataType: I64, dims: [], int64Data: [CLASSES] },
    { name: 'onehot_values', dataType: F, dims: [2], floatData: [0, 1] },
  ];
  return encodeModel({
    name: 'softmax_train',
    initializer: consts,
    input: [
      valueInfo('W', F, [INPUTS, CLASSES]),
      valueInfo('b', F, [CLASSES]),
      valueInfo('x', F, ['N', 1, 28, 28]),
      valueInfo('y', I64, ['N']),
    ],
    output: [valueInfo('loss', F, []), valueInfo('grad_W', F, [INPUTS, CLASSES]), valueInfo('grad_b', F, [CLASSES])],
    node: [
      node('Flatten', ['x'], ['X'], [intAttr('axis', 1)]),
      node('Gemm', ['X', 'W', 'b'], ['logits']),
      node('SoftmaxCrossEntropyLoss', ['logits', 'y'], ['loss', 'log_prob']),
      node('Exp', ['log_prob'], ['prob']),
      node('OneHot', ['y', 'depth', 'onehot_values'], ['onehot'], [intAttr('axis', -1)]),
      node('Sub', ['prob', 'onehot'], ['dlogits_sum']),
      node('Shape', ['X'], ['x_shape']),
      node('Gather', ['x_shape', 'idx0'], ['n_i64']),
      node('Cast', ['n_i64'], ['n_f'], [intAttr('to', F)]),
      node('Div', ['dlogits_sum', 'n_f'], ['dlogits']),
      node('Gemm', ['X', 'dlogits'], ['grad_W'], [intAttr('transA', 1)]),
      node('ReduceSum', ['dlogits', 'axes0'], ['grad_b'], [intAttr('keepdims', 0)]),
    ],
  });
}

/** Inference graph: logits. */
export function softmaxInferenceGraph(): Uint8Array {
  return encodeModel({
    name: 'softmax_infer',
    input: [valueInfo('W', F, [INPUTS, CLASSES]), valueInfo('b', F, [CLASSES]), valueInfo('x', F, ['N', 1, 28, 28])],
    output: [valueInfo('logits', F, ['N', CLASSES])],
    node: [node('Flatten', ['x'], ['X'], [intAttr('axis', 1)]), node('Gemm', ['X', 'W', 'b'], ['logits'])],
  });
}

const sessionOptions: ort.InferenceSession.SessionOptions = {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
};

export async function createSoftmaxTrainer(): Promise<Trainer> {
  const layout = buildLayout([
    { name: 'W', shape: [INPUTS, CLASSES] },
    { name: 'b', shape: [CLASSES] },
  ]);
  const bufferLayout = buildLayout([]);
  let train: ort.InferenceSession | null = null;
  let infer: ort.InferenceSession | null = null;

  const feeds = (params: Float32Array, images: Float32Array, n: number): Record<string, ort.Tensor> => {
    const views = sliceLayout(layout, params);
    if (images.length < n * INPUTS) throw new TensorError(`images: expected ${n * INPUTS} values, got ${images.length}`);
    return {
      W: new ort.Tensor('float32', views.get('W') as Float32Array, [INPUTS, CLASSES]),
      b: new ort.Tensor('float32', views.get('b') as Float32Array, [CLASSES]),
      x: new ort.Tensor('float32', images.subarray(0, n * INPUTS), [n, 1, 28, 28]),
    };
  };

  return {
    model: 'softmax',
    layout,
    bufferLayout,
    initParams(seed) {
      // PyTorch nn.Linear default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias.
      const random = mulberry32(seed);
      const bound = 1 / Math.sqrt(INPUTS);
      const out = new Float32Array(layout.size);
      for (let i = 0; i < out.length; i++) out[i] = (random() * 2 - 1) * bound;
      return out;
    },
    initBuffers: () => new Float32Array(0),
    async trainStep(params, _buffers, images, labels, n) {
      train ??= await ort.InferenceSession.create(softmaxTrainingGraph(), sessionOptions);
      const y = new BigInt64Array(n);
      for (let i = 0; i < n; i++) y[i] = BigInt(labels[i]);
      const out = await train.run({ ...feeds(params, images, n), y: new ort.Tensor('int64', y, [n]) });
      const grad = new Float32Array(layout.size);
      grad.set(out.grad_W.data as Float32Array, 0);
      grad.set(out.grad_b.data as Float32Array, INPUTS * CLASSES);
      return { loss: (out.loss.data as Float32Array)[0], grad, buffers: new Float32Array(0) };
    },
    async evaluate(params, _buffers, images, labels, n) {
      infer ??= await ort.InferenceSession.create(softmaxInferenceGraph(), sessionOptions);
      const out = await infer.run(feeds(params, images, n));
      return scoreLogits(out.logits.data as Float32Array, labels, n, CLASSES);
    },
  };
}

/** Cross-entropy and top-1 hits of a batch of logits. */
export function scoreLogits(logits: Float32Array, labels: Uint8Array, n: number, classes: number) {
  let lossSum = 0;
  let correct = 0;
  for (let i = 0; i < n; i++) {
    const row = logits.subarray(i * classes, (i + 1) * classes);
    let max = -Infinity;
    let arg = 0;
    for (let c = 0; c < classes; c++) {
      if (row[c] > max) {
        max = row[c];
        arg = c;
      }
    }
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += Math.exp(row[c] - max);
    lossSum += Math.log(sum) + max - row[labels[i]];
    if (arg === labels[i]) correct++;
  }
  return { loss: n > 0 ? lossSum / n : 0, correct, count: n };
}
