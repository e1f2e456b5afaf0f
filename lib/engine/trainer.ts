import type { ParamLayout } from './layout';

export interface TrainStepResult {
  /** Mean loss over the batch. */
  loss: number;
  /** Gradient of the mean loss, flat, in the parameter layout. */
  grad: Float32Array;
  /** Buffers after the step (batch-norm running statistics), flat, in the buffer layout. */
  buffers: Float32Array;
}

export interface EvaluateResult {
  /** Sum of per-sample losses / count. */
  loss: number;
  correct: number;
  count: number;
}

/** A model ready to train: layouts, initialisation and the two compiled graphs. */
export interface Trainer {
  model: string;
  layout: ParamLayout;
  bufferLayout: ParamLayout;
  initParams(seed: number): Float32Array;
  initBuffers(): Float32Array;
  /** @throws {EngineError} a parameter or buffer vector of the wrong length, or a bad batch. */
  trainStep(
    params: Float32Array,
    buffers: Float32Array,
    images: Float32Array,
    labels: Uint8Array,
    n: number,
  ): Promise<TrainStepResult>;
  evaluate(
    params: Float32Array,
    buffers: Float32Array,
    images: Float32Array,
    labels: Uint8Array,
    n: number,
  ): Promise<EvaluateResult>;
}
