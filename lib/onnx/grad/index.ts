import {
  addGrad,
  divGrad,
  expGrad,
  identityGrad,
  logGrad,
  mulGrad,
  negGrad,
  sqrtGrad,
  subGrad,
  sumGrad,
} from './elementwise';
import {
  clipGrad,
  hardSigmoidGrad,
  hardSwishGrad,
  logSoftmaxGrad,
  reluGrad,
  sigmoidGrad,
  softmaxGrad,
  tanhGrad,
} from './activations';
import { gemmGrad, matmulGrad } from './linear';
import { concatGrad, reshapeGrad, splitGrad, transposeGrad } from './shape-ops';
import { reduceMeanGrad, reduceSumGrad } from './reduce';
import { convGrad } from './conv';
import { averagePoolGrad, globalAveragePoolGrad, maxPoolGrad, maxPoolPrepare } from './pool';
import { batchNormGrad } from './batch-norm';
import { softmaxCrossEntropyGrad, softmaxCrossEntropyPrepare } from './loss';
import type { OpGradient } from './context';

export type { GradContext, GradRule, OpGradient, PrepareRule } from './context';

/** One gradient rule per op type. Ops missing here are named in an UnsupportedOpError by the autodiff. */
export const GRADIENTS: Record<string, OpGradient> = {
  Add: { grad: addGrad },
  Sub: { grad: subGrad },
  Mul: { grad: mulGrad },
  Div: { grad: divGrad },
  Sum: { grad: sumGrad },
  Neg: { grad: negGrad },
  Exp: { grad: expGrad },
  Log: { grad: logGrad },
  Sqrt: { grad: sqrtGrad },
  Identity: { grad: identityGrad },
  Dropout: { grad: identityGrad },
  Relu: { grad: reluGrad },
  Sigmoid: { grad: sigmoidGrad },
  Tanh: { grad: tanhGrad },
  HardSigmoid: { grad: hardSigmoidGrad },
  HardSwish: { grad: hardSwishGrad },
  Clip: { grad: clipGrad },
  Softmax: { grad: softmaxGrad },
  LogSoftmax: { grad: logSoftmaxGrad },
  Gemm: { grad: gemmGrad },
  MatMul: { grad: matmulGrad },
  Conv: { grad: convGrad },
  MaxPool: { grad: maxPoolGrad, prepare: maxPoolPrepare },
  AveragePool: { grad: averagePoolGrad },
  GlobalAveragePool: { grad: globalAveragePoolGrad },
  BatchNormalization: { grad: batchNormGrad },
  Concat: { grad: concatGrad },
  Split: { grad: splitGrad },
  Flatten: { grad: reshapeGrad },
  Reshape: { grad: reshapeGrad },
  Squeeze: { grad: reshapeGrad },
  Unsqueeze: { grad: reshapeGrad },
  Transpose: { grad: transposeGrad },
  ReduceMean: { grad: reduceMeanGrad },
  ReduceSum: { grad: reduceSumGrad },
  SoftmaxCrossEntropyLoss: { grad: softmaxCrossEntropyGrad, prepare: softmaxCrossEntropyPrepare },
};
