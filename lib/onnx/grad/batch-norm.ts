import { UnsupportedOpError } from '../unsupported-op-error';
import { floatAttr, intAttr } from '../spatial';
import { attr } from '../types';
import { channelBroadcast, countOf, reduceSum, requireDy, scalar, type GradContext } from './context';

/**
 * BatchNormalization in training mode. The training graph runs BN with training_mode = 1 and momentum = 0, so
 * outputs 1 and 2 are the batch mean and the biased batch variance (the running statistics are updated by
 * separate small ops, see training.ts). With xc = x - mean, s = 1/sqrt(var + eps) and M elements per channel:
 *   dbeta  = sum(dy)            dgamma = s * sum(dy * xc)
 *   dx     = gamma s dy - gamma s^3 sum(dy xc) / M * xc - gamma s dbeta / M
 * which costs three full passes for dx (two products and one Sum) on top of the two reductions.
 */
export function batchNormGrad(ctx: GradContext) {
  const { b, node } = ctx;
  if (intAttr(node.attrs, 'training_mode', 0) !== 1 || node.outputs.length < 3) {
    throw new UnsupportedOpError(
      'BatchNormalization',
      node.name,
      'gradient needs the training-mode form (see toTrainingForward)',
    );
  }
  const [x, gamma] = node.inputs;
  const [, mean, variance] = node.outputs;
  const rank = b.rank(x);
  const channels = b.shape(x)[1];
  if (typeof channels !== 'number')
    throw new UnsupportedOpError('BatchNormalization', node.name, 'symbolic channel count');
  const eps = floatAttr(node.attrs, 'epsilon', 1e-5);
  const axes = [0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2)];
  const dy = requireDy(ctx);

  const invStd = b.op('Reciprocal', [b.op('Sqrt', [b.op('Add', [variance, scalar(b, eps)])])]);
  const sumDy = reduceSum(b, dy, axes, false);
  // sum(dy * (x - mean)) = sum(dy * x) - mean * sum(dy): saves a full pass for x - mean. The cancellation costs
  // about |mean| / std relative digits, harmless in float32 for normalised activations.
  const sumDyX = reduceSum(b, b.op('Mul', [dy, x]), axes, false);
  const sumDyXc = b.op('Sub', [sumDyX, b.op('Mul', [mean, sumDy])]);
  const dgamma = ctx.needs(1) ? b.op('Mul', [sumDyXc, invStd]) : undefined;
  const dbeta = ctx.needs(2) ? sumDy : undefined;
  let dx: string | undefined;
  if (ctx.needs(0)) {
    const invM = b.op('Reciprocal', [countOf(b, x, channels)]);
    const a = b.op('Mul', [gamma, invStd]);
    const k = b.op('Neg', [
      b.op('Mul', [b.op('Mul', [a, b.op('Mul', [invStd, invStd])]), b.op('Mul', [sumDyXc, invM])]),
    ]);
    const c = b.op('Neg', [b.op('Mul', [a, b.op('Mul', [sumDy, invM])])]);
    // dx = a dy + k x + (c - k mean). The per-channel affine k x + (c - k mean) is one inference-mode
    // BatchNormalization pass (mean 0, variance 1 - eps, so the normaliser is exactly 1).
    const offset = b.op('Sub', [c, b.op('Mul', [k, mean])]);
    const zeros = b.op('Sub', [mean, mean]);
    const ones = b.op('Add', [zeros, scalar(b, 1 - eps)]);
    const affineX = b.op('BatchNormalization', [x, k, offset, zeros, ones], { epsilon: attr.float(eps) });
    dx = b.op('Add', [b.op('Mul', [dy, channelBroadcast(b, a, channels, rank)]), affineX]);
  }
  return [dx, dgamma, dbeta, undefined, undefined];
}
