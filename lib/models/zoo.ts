import { buildDensenet121 } from './densenet';
import { buildMobilenetV3Small } from './mobilenet';
import { buildResnet18 } from './resnet';
import { buildLenet5, buildMlp, buildSoftmax } from './small';
import { UnknownModelError } from './unknown-model-error';
import type { ModelGraph } from './net';

export interface ModelInfo {
  name: string;
  /** Number of trainable parameters (the length of the flat parameter vector). */
  params: number;
  description: string;
}

interface ZooEntry {
  description: string;
  build: () => ModelGraph;
}

const ZOO: Record<string, ZooEntry> = {
  softmax: { description: 'softmax regression, Linear(784, 10); tiny, for fast tests', build: buildSoftmax },
  mlp: { description: 'MLP 784-256-128-10 with ReLU', build: buildMlp },
  lenet5: { description: 'LeNet-5 (ReLU, max-pool), 28x28 padded first conv', build: buildLenet5 },
  mobilenet_v3_small: {
    description: 'MobileNetV3-Small (torchvision), 1 input channel, 10 classes',
    build: buildMobilenetV3Small,
  },
  resnet18: { description: 'ResNet-18 (torchvision), 1 input channel, 10 classes', build: buildResnet18 },
  densenet121: {
    description: 'DenseNet-121 (torchvision) without the stem max-pool, 1 input channel, 10 classes',
    build: buildDensenet121,
  },
};

export const ZOO_MODELS = Object.keys(ZOO);

const cache = new Map<string, ModelGraph>();

/**
 * The forward graph (inference form: input `images` [N, 1, 28, 28], output `logits` [N, 10]) and the parameter
 * and buffer specs of a zoo model, in flat-layout order. Built once per process.
 * @throws {UnknownModelError} the name is not in the zoo
 */
export function getModel(name: string): ModelGraph {
  const entry = ZOO[name];
  if (!entry) throw new UnknownModelError(name, ZOO_MODELS);
  let m = cache.get(name);
  if (!m) {
    m = entry.build();
    cache.set(name, m);
  }
  return m;
}

const sizeOf = (shape: number[]) => shape.reduce((p, d) => p * d, 1);

/** Every zoo model with its trainable parameter count. */
export function listModels(): ModelInfo[] {
  return ZOO_MODELS.map((name) => ({
    name,
    params: getModel(name).params.reduce((p, s) => p + sizeOf(s.shape), 0),
    description: ZOO[name].description,
  }));
}
