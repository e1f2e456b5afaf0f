// Model names accepted in a run config. Pure constant: the config schema and the CLI use it.
export const MODEL_NAMES = ['softmax', 'mlp', 'lenet5', 'mobilenet_v3_small', 'resnet18', 'densenet121'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

/**
 * SGD learning rate (momentum 0.9, global batch 512 = 4 peers x 2 shards x 64) used when a run config
 * gives none. lenet5: 0.02 reached 0.978-0.980 test accuracy after 3 epochs on every seed tried, 0.05
 * only 0.961-0.985 (docs/benchmarks.md, "Demo defaults").
 */
export const DEFAULT_LEARNING_RATE: Record<ModelName, number> = {
  softmax: 0.1,
  mlp: 0.05,
  lenet5: 0.02,
  mobilenet_v3_small: 0.05,
  resnet18: 0.05,
  densenet121: 0.05,
};
