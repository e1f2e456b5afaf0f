export { getModel, listModels, ZOO_MODELS, type ModelInfo } from './zoo';
export { UnknownModelError } from './unknown-model-error';
export { IMAGES, LOGITS, Net, type ModelGraph, type ParamSpec } from './net';
export { fillInit, seededRandom, type Init } from './init';
export { MODEL_NAMES, type ModelName } from './names';
