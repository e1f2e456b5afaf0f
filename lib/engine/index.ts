import { getModel } from '../models';
import { OnnxTrainer, type EngineTrainer, type TrainerOptions } from './onnx-trainer';

export type { Trainer, TrainStepResult, EvaluateResult } from './trainer';
export { OnnxTrainer, type EngineTrainer, type TrainerOptions } from './onnx-trainer';
export { EngineError } from './engine-error';
export { buildLayout, makeLayout, sliceLayout, type ParamLayout, type LayoutEntry } from './layout';
export type { SessionOptions } from './session';

/**
 * The trainer of a zoo model: flat parameter and buffer layouts, seeded initialisation, and onnxruntime
 * sessions for the training and evaluation graphs (created on first use, then reused).
 * @throws {UnknownModelError} the model name is not in the zoo
 */
export async function createTrainer(modelName: string, opts: TrainerOptions = {}): Promise<EngineTrainer> {
  return new OnnxTrainer(modelName, getModel(modelName), opts);
}
