import { ConfigError } from '../errors/config-error';
import { MODEL_NAMES } from '../models/names';
import { createSoftmaxTrainer } from './softmax';
import type { Trainer } from './trainer';

export type { Trainer, TrainStepResult, EvaluateResult } from './trainer';
export { buildLayout, sliceLayout, type ParamLayout, type LayoutEntry } from './layout';

/**
 * Builds the trainer of a zoo model.
 * @throws ConfigError on an unknown or not yet available model name.
 */
export async function createTrainer(modelName: string): Promise<Trainer> {
  if (modelName === 'softmax') return createSoftmaxTrainer();
  if ((MODEL_NAMES as readonly string[]).includes(modelName)) {
    throw new ConfigError(`model "${modelName}" is not available yet in this build; available: softmax`);
  }
  throw new ConfigError(`unknown model "${modelName}"; allowed values are ${MODEL_NAMES.join(' | ')}`);
}
