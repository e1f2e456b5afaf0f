// Model names accepted in a run config. Pure constant: the config schema and the CLI use it.
export const MODEL_NAMES = ['softmax', 'mlp', 'lenet5', 'mobilenet_v3_small', 'resnet18', 'densenet121'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];
