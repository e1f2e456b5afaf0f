import { GraphBuilder } from '../../lib/onnx/builder';
import * as ort from 'onnxruntime-node';
import { buildGradientGraph, gradName } from '../../lib/onnx/autodiff';
import { encodeModel } from '../../lib/onnx/serialize';
import { UnsupportedOpError } from '../../lib/onnx/unsupported-op-error';
import { GRADIENTS } from '../../lib/onnx/grad';
import { seededRandom } from '../../lib/models/init';
import { attr, type Attrs } from '../../lib/onnx/types';
import { checkGradients, randomData, type FdOptions, type TestInput } from './fd-harness';

const rand = seededRandom(42);
const size = (shape: number[]) => shape.reduce((p, d) => p * d, 1);

/** Values in [-1, 1] kept at least `gap` away from every kink in `kinks`. */
function awayFrom(shape: number[], kinks: number[], gap: number, scale = 1): Float32Array {
  const out = randomData(size(shape), rand, scale);
  for (let i = 0; i < out.length; i++) {
    for (const k of kinks) if (Math.abs(out[i] - k) < gap) out[i] = k + (out[i] >= k ? gap : -gap);
  }
  return out;
}

/** Distinct values spaced by 0.05 in random order, so a +-eps step never changes an arg-max. */
function distinct(shape: number[]): Float32Array {
  const n = size(shape);
  const out = Float32Array.from({ length: n }, (_, i) => (i - n / 2) * 0.05);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

async function expectGradients(inputs: TestInput[], build: (b: GraphBuilder, n: string[]) => string, opts?: FdOptions) {
  const report = await checkGradients(inputs, build, opts);
  expect(report.failures).toEqual([]);
  expect(report.checked).toBeGreaterThan(0);
  return report;
}

const conv =
  (attrs: Attrs, bias = true) =>
  (b: GraphBuilder, n: string[]) =>
    b.op('Conv', bias ? n : n.slice(0, 2), attrs);
const ints = attr.ints;

describe('Conv gradient rule', () => {
  const cases: [string, number[], number[], Attrs][] = [
    ['3x3 pad 1', [2, 3, 5, 5], [4, 3, 3, 3], { pads: ints([1, 1, 1, 1]) }],
    [
      'stride 2 with padding, odd size',
      [2, 3, 7, 7],
      [4, 3, 3, 3],
      { strides: ints([2, 2]), pads: ints([1, 1, 1, 1]) },
    ],
    [
      'stride 2, asymmetric pads, unreached rows',
      [1, 2, 8, 8],
      [3, 2, 3, 3],
      { strides: ints([2, 2]), pads: ints([1, 0, 0, 1]) },
    ],
    ['dilation 2', [2, 2, 9, 9], [3, 2, 3, 3], { dilations: ints([2, 2]), pads: ints([2, 2, 2, 2]) }],
    [
      'dilation 2 with stride 2, odd size',
      [1, 2, 11, 11],
      [2, 2, 3, 3],
      { dilations: ints([2, 2]), strides: ints([2, 2]), pads: ints([1, 1, 1, 1]) },
    ],
    [
      'depthwise (groups = channels), stride 2',
      [2, 4, 7, 7],
      [4, 1, 3, 3],
      { group: attr.int(4), strides: ints([2, 2]), pads: ints([1, 1, 1, 1]) },
    ],
    [
      'depthwise 5x5 stride 2 on a 2x2 map',
      [2, 3, 2, 2],
      [3, 1, 5, 5],
      { group: attr.int(3), strides: ints([2, 2]), pads: ints([2, 2, 2, 2]) },
    ],
    [
      'groups = 2 with channel multiplier',
      [2, 4, 6, 6],
      [6, 2, 3, 3],
      { group: attr.int(2), pads: ints([1, 1, 1, 1]) },
    ],
    ['1x1 stride 2 (downsample)', [2, 3, 5, 5], [4, 3, 1, 1], { strides: ints([2, 2]) }],
    ['1x1 stride 1 (pointwise, Gemm weight gradient)', [3, 5, 4, 4], [6, 5, 1, 1], {}],
    [
      'even 2x2 kernel, end-only padding (flipped-kernel input gradient)',
      [2, 2, 5, 5],
      [3, 2, 2, 2],
      { pads: ints([0, 0, 1, 1]) },
    ],
    ['3x3 pad 1 on a 3x3 map', [2, 3, 3, 3], [2, 3, 3, 3], { pads: ints([1, 1, 1, 1]) }],
    ['C >= 4 O (shifted-gradient Gemms), asymmetric pads', [2, 8, 5, 6], [2, 8, 3, 3], { pads: ints([1, 0, 0, 2]) }],
    ['C >= 4 O, dilation 2', [2, 8, 7, 7], [2, 8, 3, 3], { pads: ints([2, 2, 2, 2]), dilations: ints([2, 2]) }],
    [
      '3x3 pad 1 stride 2 on a 1x1 map (single tap)',
      [2, 3, 1, 1],
      [2, 3, 3, 3],
      { pads: ints([1, 1, 1, 1]), strides: ints([2, 2]) },
    ],
    ['3x3 pad 1 on a 1x1 map (single-tap Gemm gradients)', [3, 4, 1, 1], [5, 4, 3, 3], { pads: ints([1, 1, 1, 1]) }],
    [
      'depthwise 5x5 pad 2 on a 1x1 map (single tap)',
      [3, 4, 1, 1],
      [4, 1, 5, 5],
      { pads: ints([2, 2, 2, 2]), group: attr.int(4) },
    ],
    [
      'dilated 3x3 pad 2 on a 1x1 map (single tap)',
      [2, 3, 1, 1],
      [2, 3, 3, 3],
      { pads: ints([2, 2, 2, 2]), dilations: ints([2, 2]) },
    ],
    ['3x3 pad 1 on a 2x2 map (flipped kernel)', [2, 3, 2, 2], [4, 3, 3, 3], { pads: ints([1, 1, 1, 1]) }],
    ['7x7 stride 2 pad 3 (stem)', [1, 1, 12, 12], [2, 1, 7, 7], { strides: ints([2, 2]), pads: ints([3, 3, 3, 3]) }],
    ['non-square kernel and stride', [1, 2, 7, 6], [2, 2, 3, 2], { strides: ints([2, 1]), pads: ints([1, 0, 1, 1]) }],
    ['SAME_UPPER auto pad', [1, 2, 6, 6], [2, 2, 3, 3], { auto_pad: attr.string('SAME_UPPER'), strides: ints([2, 2]) }],
    // Per-sample patches too large for the patch-matrix path: the batch-axis convolution computes dW.
    [
      '5x5 pad 2 with large patches (batch-axis convolution dW)',
      [1, 16, 12, 12],
      [5, 16, 5, 5],
      { pads: ints([2, 2, 2, 2]) },
    ],
  ];
  it.each(cases)('%s', async (_label, xs, ws, attrs) => {
    await expectGradients(
      [
        { name: 'x', shape: xs },
        { name: 'w', shape: ws },
        { name: 'b', shape: [ws[0]] },
      ],
      conv(attrs),
      // A convolution is linear in each input, so a large step is exact and keeps float32 rounding of the
      // summed loss (hundreds of outputs) out of the numeric derivative.
      { eps: 0.1 },
    );
  });

  it('without bias', async () => {
    await expectGradients(
      [
        { name: 'x', shape: [2, 2, 5, 5] },
        { name: 'w', shape: [3, 2, 3, 3] },
      ],
      conv({ strides: ints([2, 2]) }, false),
    );
  });
});

describe('Gemm and MatMul gradient rules', () => {
  const gemmCases: [string, number[], number[], number[], Attrs][] = [
    ['Linear (transB) with broadcast bias', [3, 4], [5, 4], [5], { transB: attr.int(1) }],
    ['transA', [4, 3], [4, 5], [1, 5], { transA: attr.int(1) }],
    [
      'transA and transB with alpha, beta',
      [4, 3],
      [5, 4],
      [3, 5],
      { transA: attr.int(1), transB: attr.int(1), alpha: attr.float(0.7), beta: attr.float(1.5) },
    ],
    ['plain with column bias', [3, 4], [4, 5], [3, 1], {}],
  ];
  it.each(gemmCases)('Gemm %s', async (_l, as, bs, cs, attrs) => {
    await expectGradients(
      [
        { name: 'a', shape: as },
        { name: 'b', shape: bs },
        { name: 'c', shape: cs },
      ],
      (b, n) => b.op('Gemm', n, attrs),
    );
  });

  it.each([
    ['2-D', [3, 4], [4, 5]],
    ['batched with a broadcast 2-D right operand', [2, 3, 4], [4, 5]],
    ['batch broadcasting on both sides', [2, 1, 3, 4], [3, 4, 2]],
  ])('MatMul %s', async (_l, as, bs) => {
    await expectGradients(
      [
        { name: 'a', shape: as },
        { name: 'b', shape: bs },
      ],
      (b, n) => b.op('MatMul', n),
    );
  });
});

describe('elementwise gradient rules with broadcasting', () => {
  it.each([
    ['Add', [2, 3, 4, 4], [3, 1, 1]],
    ['Add', [3], [2, 3]],
    ['Sub', [2, 3], [3]],
    ['Sub', [2, 1, 4], [3, 1]],
    ['Mul', [2, 3, 4, 4], [2, 3, 1, 1]],
    ['Mul', [1, 3], [2, 1]],
  ])('%s %j with %j', async (op, as, bs) => {
    await expectGradients(
      [
        { name: 'a', shape: as },
        { name: 'b', shape: bs },
      ],
      (b, n) => b.op(op, n),
    );
  });

  it('Div with broadcasting (denominator away from 0)', async () => {
    await expectGradients(
      [
        { name: 'a', shape: [2, 3] },
        { name: 'b', shape: [2, 1], data: Float32Array.from([1.5, -2]) },
      ],
      (b, n) => b.op('Div', n),
    );
  });

  it('Sum of three with broadcasting', async () => {
    await expectGradients(
      [
        { name: 'a', shape: [2, 3, 2] },
        { name: 'b', shape: [3, 1] },
        { name: 'c', shape: [2] },
      ],
      (b, n) => b.op('Sum', n),
    );
  });

  it.each([
    ['Neg', undefined],
    ['Exp', undefined],
    ['Log', 'positive'],
    ['Sqrt', 'positive'],
    ['Tanh', undefined],
    ['Sigmoid', undefined],
  ])('%s', async (op, domain) => {
    const data = domain ? Float32Array.from(randomData(12, rand), (v) => Math.abs(v) + 0.5) : undefined;
    await expectGradients([{ name: 'x', shape: [3, 4], data }], (b, n) => b.op(op, n));
  });
});

describe('activation gradient rules', () => {
  it('Relu', async () => {
    await expectGradients([{ name: 'x', shape: [2, 3, 3, 3], data: awayFrom([2, 3, 3, 3], [0], 0.05) }], (b, n) =>
      b.op('Relu', n),
    );
  });
  it('HardSigmoid (PyTorch alpha 1/6)', async () => {
    const data = awayFrom([4, 8], [-3, 3], 0.05, 5);
    await expectGradients([{ name: 'x', shape: [4, 8], data }], (b, n) =>
      b.op('HardSigmoid', n, { alpha: attr.float(1 / 6), beta: attr.float(0.5) }),
    );
  });
  it('HardSigmoid (ONNX default alpha 0.2)', async () => {
    const data = awayFrom([4, 8], [-2.5, 2.5], 0.05, 4);
    await expectGradients([{ name: 'x', shape: [4, 8], data }], (b, n) => b.op('HardSigmoid', n));
  });
  it('HardSwish across all three pieces', async () => {
    const data = awayFrom([4, 8], [-3, 3], 0.05, 5);
    expect(data.some((v) => v < -3) && data.some((v) => v > 3) && data.some((v) => Math.abs(v) < 3)).toBe(true);
    await expectGradients([{ name: 'x', shape: [4, 8], data }], (b, n) => b.op('HardSwish', n));
  });
  it('Clip with constant bounds (ReLU6)', async () => {
    const data = awayFrom([4, 8], [0, 6], 0.05, 8);
    await expectGradients([{ name: 'x', shape: [4, 8], data }], (b, n) =>
      b.op('Clip', [n[0], b.constFloat([0], []), b.constFloat([6], [])]),
    );
  });
  it.each(['Softmax', 'LogSoftmax'])('%s over the last axis', async (op) => {
    await expectGradients([{ name: 'x', shape: [3, 5] }], (b, n) => b.op(op, n, { axis: attr.int(-1) }));
  });
});

describe('pooling gradient rules', () => {
  it('GlobalAveragePool', async () => {
    await expectGradients([{ name: 'x', shape: [2, 3, 5, 5] }], (b, n) => b.op('GlobalAveragePool', n));
  });
  it('AveragePool 2x2 stride 2 on an odd size', async () => {
    await expectGradients([{ name: 'x', shape: [2, 3, 7, 7] }], (b, n) =>
      b.op('AveragePool', n, { kernel_shape: ints([2, 2]), strides: ints([2, 2]) }),
    );
  });
  it.each([0, 1])('AveragePool 3x3 stride 2 pad 1, count_include_pad %d', async (include) => {
    await expectGradients([{ name: 'x', shape: [1, 2, 6, 6] }], (b, n) =>
      b.op('AveragePool', n, {
        kernel_shape: ints([3, 3]),
        strides: ints([2, 2]),
        pads: ints([1, 1, 1, 1]),
        count_include_pad: attr.int(include),
      }),
    );
  });
  it('MaxPool 2x2 stride 2 (non-overlapping)', async () => {
    const shape = [2, 3, 6, 6];
    await expectGradients([{ name: 'x', shape, data: distinct(shape) }], (b, n) =>
      b.op('MaxPool', n, { kernel_shape: ints([2, 2]), strides: ints([2, 2]) }),
    );
  });
  it('MaxPool 2x2 stride 2 routes a tied window gradient to the first maximum only (PyTorch)', async () => {
    // Batch 2, 1 channel, 4x4: windows with two, three and four tied maxima in different positions.
    const x = Float32Array.from([
      ...[1, 1, 0, 2, 0, 0, 2, 0, 3, 0, 5, 5, 3, 3, 5, 5],
      ...[0, 0, -1, -1, 0, 7, -1, -1, 4, 1, 0, 0, 2, 4, 0, 9],
    ]);
    const b = new GraphBuilder('ties');
    b.input('x', 'float32', ['N', 1, 4, 4]);
    b.input('dy', 'float32', ['N', 1, 2, 2]);
    const y = b.op('MaxPool', ['x'], { kernel_shape: ints([2, 2]), strides: ints([2, 2]) });
    const loss = b.op('ReduceSum', [b.op('Mul', [y, 'dy'])], { keepdims: attr.int(0) });
    b.output(loss);
    const session = await ort.InferenceSession.create(encodeModel(buildGradientGraph(b.build(), { loss, wrt: ['x'] })));
    try {
      const dy = Float32Array.from([10, 20, 30, 40, 50, 60, 70, 80]);
      const out = await session.run({
        x: new ort.Tensor('float32', x, [2, 1, 4, 4]),
        dy: new ort.Tensor('float32', dy, [2, 1, 2, 2]),
      });
      expect(Array.from(out[gradName('x')].data as Float32Array)).toEqual([
        ...[10, 0, 0, 20, 0, 0, 0, 0, 30, 0, 40, 0, 0, 0, 0, 0],
        ...[0, 0, 60, 0, 0, 50, 0, 0, 70, 0, 0, 0, 0, 0, 0, 80],
      ]);
    } finally {
      await session.release();
    }
  });
  const memberCases: [string, number[], number[], number, number][] = [
    ['LeNet conv1 shape, 2x2 pool', [3, 1, 12, 12], [4, 1, 5, 5], 2, 2],
    ['two channels, 3x3 kernel, no padding, 2x2 pool', [2, 2, 10, 10], [3, 2, 3, 3], 0, 2],
    ['two channels, 3x3 kernel, padding 1, 2x2 pool', [2, 2, 8, 8], [3, 2, 3, 3], 1, 2],
    ['3x3 pool', [2, 1, 12, 12], [2, 1, 5, 5], 2, 3],
  ];
  it.each(memberCases)(
    'member-form weight and bias gradients equal the scattered form with tied maxima: %s',
    async (_label, xs, ws, pad, k) => {
      // A constant non-zero background (as in MNIST) with sparse marks: the convolution output has long runs of
      // equal values over equal patches, so most windows tie and routing a gradient to every tied member would
      // multiply its contribution.
      const x = new Float32Array(xs.reduce((p, d) => p * d, 1)).fill(-0.42); // like MNIST background
      for (let i = 0; i < x.length; i += 53) x[i] = (i % 5) - 2;
      const w = randomData(
        ws.reduce((p, d) => p * d, 1),
        rand,
      );
      const bias = randomData(ws[0], rand);
      const out = (xs[2] + 2 * pad - ws[2] + 1) / k;
      const r = randomData(ws[0] * out * out, rand);
      const build = () => {
        const b = new GraphBuilder('members');
        b.input('x', 'float32', ['N', ...xs.slice(1)]);
        b.input('w', 'float32', ws);
        b.input('b', 'float32', [ws[0]]);
        const conv = b.op('Conv', ['x', 'w', 'b'], { pads: ints([pad, pad, pad, pad]) });
        const y = b.op('MaxPool', [conv], { kernel_shape: ints([k, k]), strides: ints([k, k]) });
        const weights = b.constFloat(r, [1, ws[0], out, out]);
        const loss = b.op('ReduceSum', [b.op('Mul', [y, weights])], { keepdims: attr.int(0) });
        b.output(loss);
        return { graph: b.build(), loss };
      };
      const grads = async (wrt: string[]) => {
        const { graph, loss } = build();
        const training = buildGradientGraph(graph, { loss, wrt });
        const session = await ort.InferenceSession.create(encodeModel(training));
        try {
          const out = await session.run({
            x: new ort.Tensor('float32', x, xs),
            w: new ort.Tensor('float32', w, ws),
            b: new ort.Tensor('float32', bias, [ws[0]]),
          });
          const ops = training.nodes.map((n) => n.op);
          return { w: out[gradName('w')].data as Float32Array, b: out[gradName('b')].data as Float32Array, ops };
        } finally {
          await session.release();
        }
      };
      const members = await grads(['w', 'b']); // x is data: no dX, the member form computes dW
      const scattered = await grads(['x', 'w', 'b']); // dX needed: dW from the scattered gradient
      expect(members.ops).toContain('SpaceToDepth');
      expect(members.ops).not.toContain('MaxUnpool');
      expect(scattered.ops).toContain('MaxUnpool');
      const close = (a: Float32Array, e: Float32Array) =>
        a.forEach((v, i) => expect(Math.abs(v - e[i])).toBeLessThan(1e-4 * Math.max(1, Math.abs(e[i]))));
      close(members.w, scattered.w);
      close(members.b, scattered.b);
    },
  );
  it('MaxPool 3x3 stride 2 pad 1 (overlapping windows), odd size', async () => {
    const shape = [2, 2, 7, 7];
    await expectGradients([{ name: 'x', shape, data: distinct(shape) }], (b, n) =>
      b.op('MaxPool', n, { kernel_shape: ints([3, 3]), strides: ints([2, 2]), pads: ints([1, 1, 1, 1]) }),
    );
  });
  it('MaxPool 3x3 stride 1 (heavily overlapping)', async () => {
    const shape = [1, 2, 5, 5];
    await expectGradients([{ name: 'x', shape, data: distinct(shape) }], (b, n) =>
      b.op('MaxPool', n, { kernel_shape: ints([3, 3]), strides: ints([1, 1]) }),
    );
  });
});

describe('BatchNormalization (training mode) gradient rule', () => {
  const bn = (b: GraphBuilder, n: string[]) => {
    const c = b.shape(n[0])[1] as number;
    const mean = b.constFloat(new Array(c).fill(0));
    const variance = b.constFloat(new Array(c).fill(1));
    return b.node(
      'BatchNormalization',
      [n[0], n[1], n[2], mean, variance],
      { training_mode: attr.int(1), momentum: attr.float(0), epsilon: attr.float(1e-3) },
      { outputs: 3 },
    )[0];
  };
  it.each([
    ['NCHW', [4, 3, 3, 3]],
    ['tiny batch and 1x1 maps (M = 3)', [3, 2, 1, 1]],
    ['N x C (BatchNorm1d)', [5, 4]],
  ])('%s', async (_l, xs) => {
    const c = xs[1];
    // Non-normalised inputs (offset and scale per channel) exercise the mean/variance terms.
    const data = Float32Array.from(
      randomData(size(xs), rand),
      (v, i) => v * 2 + 0.5 + (Math.floor(i / size(xs.slice(2))) % c),
    );
    await expectGradients(
      [
        { name: 'x', shape: xs, data },
        { name: 'gamma', shape: [c], data: Float32Array.from(randomData(c, rand), (v) => v + 1.5) },
        { name: 'beta', shape: [c] },
      ],
      bn,
      { eps: 5e-3 },
    );
  });
});

describe('shape and reduction gradient rules', () => {
  it('Concat along channels', async () => {
    await expectGradients(
      [
        { name: 'a', shape: [2, 2, 3, 3] },
        { name: 'b', shape: [2, 3, 3, 3] },
        { name: 'c', shape: [2, 1, 3, 3] },
      ],
      (b, n) => b.op('Concat', n, { axis: attr.int(1) }),
    );
  });
  it('Concat reusing one input twice', async () => {
    await expectGradients([{ name: 'a', shape: [2, 2, 2] }], (b, n) =>
      b.op('Concat', [n[0], n[0]], { axis: attr.int(-1) }),
    );
  });
  it('Split then Mul (one output unused)', async () => {
    await expectGradients([{ name: 'a', shape: [2, 6] }], (b, n) => {
      const [p, q] = b.node('Split', [n[0], b.constInt64([2, 3, 1])], { axis: attr.int(1) }, { outputs: 3 });
      return b.op('Concat', [b.op('Mul', [p, p]), q], { axis: attr.int(1) });
    });
  });
  it('Flatten', async () => {
    await expectGradients([{ name: 'x', shape: [2, 3, 2, 2] }], (b, n) => b.op('Flatten', n, { axis: attr.int(1) }));
  });
  it('Reshape, Transpose, Unsqueeze, Squeeze', async () => {
    await expectGradients([{ name: 'x', shape: [2, 3, 4] }], (b, n) => {
      const r = b.op('Reshape', [n[0], b.constInt64([4, -1])]);
      const t = b.op('Transpose', [r], { perm: ints([1, 0]) });
      const u = b.op('Unsqueeze', [t, b.constInt64([0])]);
      return b.op('Squeeze', [u, b.constInt64([0])]);
    });
  });
  it.each([
    ['ReduceMean keepdims', 'ReduceMean', [2, 3], 1],
    ['ReduceMean no keepdims', 'ReduceMean', [0, 2], 0],
    ['ReduceSum keepdims', 'ReduceSum', [1], 1],
    ['ReduceSum no keepdims', 'ReduceSum', [0, 3], 0],
  ])('%s', async (_l, op, axes, keep) => {
    await expectGradients([{ name: 'x', shape: [2, 3, 2, 3] }], (b, n) =>
      op === 'ReduceMean'
        ? b.op(op, n, { axes: ints(axes), keepdims: attr.int(keep) })
        : b.op(op, [n[0], b.constInt64(axes)], { keepdims: attr.int(keep) }),
    );
  });
});

describe('SoftmaxCrossEntropyLoss gradient rule', () => {
  it.each(['mean', 'sum', 'none'])('reduction %s', async (reduction) => {
    const labels = BigInt64Array.from([0n, 3n, 1n, 3n, 2n]);
    await expectGradients(
      [
        { name: 'scores', shape: [5, 4], data: randomData(20, rand, 3) },
        { name: 'labels', shape: [5], dtype: 'int64', int64: labels, grad: false },
      ],
      (b, n) => {
        const loss = b.op('SoftmaxCrossEntropyLoss', n, { reduction: attr.string(reduction) });
        // The harness multiplies by a probe of the output's shape; give scalars a 1-element shape.
        return reduction === 'none' ? loss : b.op('Reshape', [loss, b.constInt64([1])]);
      },
    );
  });
});

describe('autodiff coverage and errors', () => {
  it('has a rule for every op the issue lists', () => {
    const required = [
      'Conv',
      'Gemm',
      'MatMul',
      'Add',
      'Sub',
      'Mul',
      'Div',
      'Relu',
      'Sigmoid',
      'HardSigmoid',
      'HardSwish',
      'GlobalAveragePool',
      'AveragePool',
      'MaxPool',
      'BatchNormalization',
      'Concat',
      'Flatten',
      'Reshape',
      'ReduceMean',
      'SoftmaxCrossEntropyLoss',
    ];
    expect(required.filter((op) => !GRADIENTS[op])).toEqual([]);
  });

  it('names an op without a rule together with its node', () => {
    const b = new GraphBuilder();
    b.input('x', 'float32', [2, 3]);
    const y = b.op('Abs', ['x'], {}, 'my_abs_node');
    const loss = b.op('ReduceSum', [y], { keepdims: attr.int(0) });
    expect(() => buildGradientGraph(b.build(), { loss, wrt: ['x'] })).toThrow(UnsupportedOpError);
    expect(() => buildGradientGraph(b.build(), { loss, wrt: ['x'] })).toThrow(/Abs at node 'my_abs_node'/);
  });

  it('rejects a non-scalar loss', () => {
    const b = new GraphBuilder();
    b.input('x', 'float32', [2, 3]);
    const y = b.op('Relu', ['x']);
    expect(() => buildGradientGraph(b.build(), { loss: y, wrt: ['x'] })).toThrow(/must be a scalar/);
  });
});
