import { kaimingNormal } from './init';
import { Net, type InitPolicy, type ModelGraph } from './net';

/** torchvision MobileNetV3: kaiming_normal_(fan_out) convs with zero bias, Linear N(0, 0.01) with zero bias. */
const MOBILENET_INIT: InitPolicy = {
  conv: (_fanIn, fanOut) => kaimingNormal(fanOut),
  convBias: () => ({ kind: 'const', value: 0 }),
  linear: () => ({ kind: 'normal', std: 0.01 }),
  linearBias: () => ({ kind: 'const', value: 0 }),
};

const BN_EPS = 0.001;
const BN_MOMENTUM = 0.01;

/** torchvision's _make_divisible(v, 8). */
function makeDivisible(v: number, divisor = 8): number {
  let n = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (n < 0.9 * v) n += divisor;
  return n;
}

type Activation = 'RE' | 'HS';

/** (kernel, expanded channels, out channels, squeeze-excite, activation, stride) for MobileNetV3-Small. */
const BNECK: [number, number, number, boolean, Activation, number][] = [
  [3, 16, 16, true, 'RE', 2],
  [3, 72, 24, false, 'RE', 2],
  [3, 88, 24, false, 'RE', 1],
  [5, 96, 40, true, 'HS', 2],
  [5, 240, 40, true, 'HS', 1],
  [5, 240, 40, true, 'HS', 1],
  [5, 120, 48, true, 'HS', 1],
  [5, 144, 48, true, 'HS', 1],
  [5, 288, 96, true, 'HS', 2],
  [5, 576, 96, true, 'HS', 1],
  [5, 576, 96, true, 'HS', 1],
];

function convBnAct(
  n: Net,
  x: string,
  prefix: string,
  cout: number,
  k: number,
  act: Activation | null,
  stride = 1,
  groups = 1,
): string {
  let y = n.conv(x, `${prefix}.0`, cout, k, { stride, groups, bias: false });
  y = n.batchNorm(y, `${prefix}.1`, BN_EPS, BN_MOMENTUM);
  if (act === 'RE') y = n.relu(y);
  if (act === 'HS') y = n.hardswish(y);
  return y;
}

function squeezeExcite(n: Net, x: string, prefix: string): string {
  const c = n.channels(x);
  const squeeze = makeDivisible(Math.floor(c / 4));
  let s = n.globalAvgPool(x);
  s = n.relu(n.conv(s, `${prefix}.fc1`, squeeze, 1, { pad: 0 }));
  s = n.hardsigmoid(n.conv(s, `${prefix}.fc2`, c, 1, { pad: 0 }));
  return n.mul(x, s);
}

/**
 * MobileNetV3-Small (Howard et al. 2019; torchvision layout and names) for 1x28x28 input and 10 classes. Only the
 * stem's input channels and the classifier width change; strides are kept, so the feature maps go
 * 28 -> 14 -> 7 -> 4 -> 2 -> 1. The classifier's Dropout(0.2) is left out (training graphs are deterministic).
 */
export function buildMobilenetV3Small(): ModelGraph {
  const n = new Net('mobilenet_v3_small', MOBILENET_INIT);
  let x = convBnAct(n, n.input, 'features.0', 16, 3, 'HS', 2);
  BNECK.forEach(([k, expanded, out, se, act, stride], i) => {
    const prefix = `features.${i + 1}.block`;
    const cin = n.channels(x);
    let y = x;
    let j = 0;
    if (expanded !== cin) y = convBnAct(n, y, `${prefix}.${j++}`, expanded, 1, act);
    y = convBnAct(n, y, `${prefix}.${j++}`, expanded, k, act, stride, expanded);
    if (se) y = squeezeExcite(n, y, `${prefix}.${j++}`);
    y = convBnAct(n, y, `${prefix}.${j++}`, out, 1, null);
    x = stride === 1 && cin === out ? n.add(y, x) : y;
  });
  x = convBnAct(n, x, 'features.12', 576, 1, 'HS');
  x = n.flatten(n.globalAvgPool(x));
  x = n.hardswish(n.linear(x, 'classifier.0', 1024));
  return n.finish(n.linear(x, 'classifier.3', 10));
}
