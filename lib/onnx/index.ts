export { GraphBuilder, OPSET, type Graph, type NodeOptions } from './builder';
export { buildGradientGraph, gradName, type GradientGraphOptions } from './autodiff';
export {
  buildTrainingGraph,
  buildEvaluationGraph,
  trainingForward,
  bufferUpdateName,
  LOSS,
  LABELS,
  CORRECT,
  type TrainingGraphOptions,
} from './training';
export { encodeModel, decodeModel, type DecodedModel } from './serialize';
export { importForwardModel, importTrainingGraph, type ImportedModel } from './import';
export { dumpGraph } from './dump';
export { GRADIENTS } from './grad';
export { GraphError } from './graph-error';
export { UnsupportedOpError } from './unsupported-op-error';
export { ModelDecodeError } from './model-decode-error';
export {
  attr,
  type Attr,
  type Attrs,
  type ConstTensor,
  type DType,
  type Dim,
  type GraphNode,
  type Shape,
  type ValueInfo,
} from './types';
