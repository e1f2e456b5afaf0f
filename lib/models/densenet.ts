import { kaimingNormal } from './init';
import { Net, TORCH_DEFAULT, type InitPolicy, type ModelGraph } from './net';

/** torchvision DenseNet: kaiming_normal_ (fan_in) convs, Linear weight nn default with zero bias. */
const DENSENET_INIT: InitPolicy = {
  ...TORCH_DEFAULT,
  conv: (fanIn) => kaimingNormal(fanIn),
  linearBias: () => ({ kind: 'const', value: 0 }),
};

const GROWTH = 32;
const BN_SIZE = 4;
const BLOCKS = [6, 12, 24, 16];

function denseLayer(n: Net, features: string[], prefix: string): string {
  const x = features.length === 1 ? features[0] : n.concat(features);
  let y = n.conv(n.relu(n.batchNorm(x, `${prefix}.norm1`)), `${prefix}.conv1`, BN_SIZE * GROWTH, 1, {
    bias: false,
    pad: 0,
  });
  y = n.conv(n.relu(n.batchNorm(y, `${prefix}.norm2`)), `${prefix}.conv2`, GROWTH, 3, { bias: false });
  return y;
}

/**
 * DenseNet-121 (Huang et al. 2017; torchvision layout and names) for 1x28x28 input and 10 classes. Besides the
 * stem's input channels and the classifier width, the stem's 3x3/2 max-pool is removed: with it the third
 * transition would pool a 1x1 map. The dense blocks run at 14x14, 7x7, 3x3 and 1x1.
 */
export function buildDensenet121(): ModelGraph {
  const n = new Net('densenet121', DENSENET_INIT);
  let x = n.conv(n.input, 'features.conv0', 64, 7, { stride: 2, pad: 3, bias: false });
  x = n.relu(n.batchNorm(x, 'features.norm0'));
  BLOCKS.forEach((layers, bi) => {
    const features = [x];
    for (let l = 0; l < layers; l++)
      features.push(denseLayer(n, features, `features.denseblock${bi + 1}.denselayer${l + 1}`));
    x = n.concat(features);
    if (bi < BLOCKS.length - 1) {
      const prefix = `features.transition${bi + 1}`;
      x = n.conv(n.relu(n.batchNorm(x, `${prefix}.norm`)), `${prefix}.conv`, n.channels(x) / 2, 1, {
        bias: false,
        pad: 0,
      });
      x = n.avgPool(x, 2, 2);
    }
  });
  x = n.relu(n.batchNorm(x, 'features.norm5'));
  x = n.flatten(n.globalAvgPool(x));
  return n.finish(n.linear(x, 'classifier', 10));
}
