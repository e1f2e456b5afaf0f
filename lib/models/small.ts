import { Net, TORCH_DEFAULT, type ModelGraph } from './net';

/** Multinomial logistic regression: flatten -> Linear(784, 10). */
export function buildSoftmax(): ModelGraph {
  const n = new Net('softmax', TORCH_DEFAULT);
  return n.finish(n.linear(n.flatten(n.input), 'fc', 10));
}

/** Two hidden layers: 784 -> 256 -> 128 -> 10 with ReLU. */
export function buildMlp(): ModelGraph {
  const n = new Net('mlp', TORCH_DEFAULT);
  let x = n.flatten(n.input);
  x = n.relu(n.linear(x, 'fc1', 256));
  x = n.relu(n.linear(x, 'fc2', 128));
  return n.finish(n.linear(x, 'fc3', 10));
}

/**
 * LeNet-5 in its common modern form: conv 5x5 (6, padded to keep 28x28) -> ReLU -> max-pool 2 -> conv 5x5 (16)
 * -> ReLU -> max-pool 2 -> 400 -> 120 -> 84 -> 10. (LeCun et al. 1998 used 32x32 inputs, tanh-like squashing,
 * trainable average sub-sampling and a partially connected C3; 61,706 parameters here vs about 60k there.)
 */
export function buildLenet5(): ModelGraph {
  const n = new Net('lenet5', TORCH_DEFAULT);
  // ReLU and max-pooling commute (ReLU is monotone), so pooling first computes the same function with the
  // ReLU and its gradient on a 4x smaller tensor.
  let x = n.relu(n.maxPool(n.conv(n.input, 'conv1', 6, 5, { pad: 2 }), 2, 2));
  x = n.relu(n.maxPool(n.conv(x, 'conv2', 16, 5, { pad: 0 }), 2, 2));
  x = n.flatten(x);
  x = n.relu(n.linear(x, 'fc1', 120));
  x = n.relu(n.linear(x, 'fc2', 84));
  return n.finish(n.linear(x, 'fc3', 10));
}
