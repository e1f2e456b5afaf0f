import { kaimingNormal } from './init';
import { Net, TORCH_DEFAULT, type InitPolicy, type ModelGraph } from './net';

/** torchvision ResNet: kaiming_normal_(mode='fan_out', relu) for convs; Linear keeps nn defaults. */
const RESNET_INIT: InitPolicy = { ...TORCH_DEFAULT, conv: (_fanIn, fanOut) => kaimingNormal(fanOut) };

function basicBlock(n: Net, x: string, prefix: string, planes: number, stride: number): string {
  const cin = n.channels(x);
  let out = n.relu(n.batchNorm(n.conv(x, `${prefix}.conv1`, planes, 3, { stride, bias: false }), `${prefix}.bn1`));
  out = n.batchNorm(n.conv(out, `${prefix}.conv2`, planes, 3, { bias: false }), `${prefix}.bn2`);
  let identity = x;
  if (stride !== 1 || cin !== planes) {
    identity = n.batchNorm(
      n.conv(x, `${prefix}.downsample.0`, planes, 1, { stride, bias: false, pad: 0 }),
      `${prefix}.downsample.1`,
    );
  }
  return n.relu(n.add(out, identity));
}

/**
 * ResNet-18 (He et al. 2016; torchvision layout and names) for 1x28x28 input and 10 classes. Only the stem's
 * input channels (1 instead of 3) and the classifier width (10 instead of 1000) change; the 7x7/2 stem and the
 * 3x3/2 max-pool are kept, so the four stages run at 7x7, 4x4, 2x2 and 1x1.
 */
export function buildResnet18(): ModelGraph {
  const n = new Net('resnet18', RESNET_INIT);
  let x = n.conv(n.input, 'conv1', 64, 7, { stride: 2, pad: 3, bias: false });
  // relu(maxpool(.)) == maxpool(relu(.)) (ReLU is monotone; max-pool padding never wins): same function, the
  // ReLU and its gradient run on the 4x smaller pooled tensor.
  x = n.relu(n.maxPool(n.batchNorm(x, 'bn1'), 3, 2, 1));
  const stages: [number, number][] = [
    [64, 1],
    [128, 2],
    [256, 2],
    [512, 2],
  ];
  stages.forEach(([planes, stride], i) => {
    x = basicBlock(n, x, `layer${i + 1}.0`, planes, stride);
    x = basicBlock(n, x, `layer${i + 1}.1`, planes, 1);
  });
  x = n.flatten(n.globalAvgPool(x));
  return n.finish(n.linear(x, 'fc', 10));
}
