import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../../lib/onnx/builder';
import { patchChunks, patchWeightGrad } from '../../lib/onnx/grad/conv';
import { encodeModel } from '../../lib/onnx/serialize';
import { windowGeometry } from '../../lib/onnx/spatial';
import { attr, type Attrs } from '../../lib/onnx/types';
import { seededRandom } from '../../lib/models/init';
import { randomData } from './fd-harness';

/** dW[o, c, i, j] = sum over n, y, x of dY[n, o, y, x] * Xpadded[n, c, y*s + i*d, x*s + j*d], by direct loops. */
function referenceWeightGrad(
  x: Float32Array,
  xs: number[],
  dy: Float32Array,
  ys: number[],
  k: number[],
  attrs: { strides: number[]; dilations: number[]; pads: number[] },
): Float32Array {
  const [n, c, h, w] = xs;
  const [, o, ho, wo] = ys;
  const dw = new Float32Array(o * c * k[0] * k[1]);
  for (let oc = 0; oc < o; oc++)
    for (let ic = 0; ic < c; ic++)
      for (let i = 0; i < k[0]; i++)
        for (let j = 0; j < k[1]; j++) {
          let s = 0;
          for (let b = 0; b < n; b++)
            for (let y = 0; y < ho; y++)
              for (let q = 0; q < wo; q++) {
                const r = y * attrs.strides[0] + i * attrs.dilations[0] - attrs.pads[0];
                const col = q * attrs.strides[1] + j * attrs.dilations[1] - attrs.pads[1];
                if (r < 0 || r >= h || col < 0 || col >= w) continue;
                s += dy[((b * o + oc) * ho + y) * wo + q] * x[((b * c + ic) * h + r) * w + col];
              }
          dw[((oc * c + ic) * k[0] + i) * k[1] + j] = s;
        }
  return dw;
}

describe('patch-matrix convolution weight gradient', () => {
  const cases: [string, number[], number[], { strides: number[]; dilations: number[]; pads: number[] }, number][] = [
    [
      'LeNet conv1 shape, one channel, 3 chunks',
      [7, 1, 12, 12],
      [6, 1, 5, 5],
      { strides: [1, 1], dilations: [1, 1], pads: [2, 2, 2, 2] },
      3,
    ],
    [
      '6 -> 16 channels, no padding, one chunk',
      [5, 6, 9, 9],
      [16, 6, 5, 5],
      { strides: [1, 1], dilations: [1, 1], pads: [0, 0, 0, 0] },
      1,
    ],
    [
      'stride 2, asymmetric pads, 4 chunks on 9 samples',
      [9, 3, 8, 7],
      [4, 3, 3, 3],
      { strides: [2, 2], dilations: [1, 1], pads: [1, 0, 0, 1] },
      4,
    ],
    [
      'dilation 2, one output channel',
      [3, 2, 9, 9],
      [1, 2, 3, 3],
      { strides: [1, 1], dilations: [2, 2], pads: [2, 2, 2, 2] },
      2,
    ],
    [
      'fewer samples than chunks (empty chunks)',
      [2, 2, 6, 6],
      [3, 2, 3, 3],
      { strides: [1, 1], dilations: [1, 1], pads: [1, 1, 1, 1] },
      5,
    ],
    [
      'non-square kernel and stride',
      [4, 2, 7, 6],
      [2, 2, 3, 2],
      { strides: [2, 1], dilations: [1, 1], pads: [1, 0, 1, 1] },
      2,
    ],
  ];
  it.each(cases)('%s matches direct summation', async (_label, xs, ws, geo, chunks) => {
    const rand = seededRandom(11);
    const a: Attrs = {
      strides: attr.ints(geo.strides),
      dilations: attr.ints(geo.dilations),
      pads: attr.ints(geo.pads),
    };
    const g = windowGeometry(a, xs.slice(2), ws.slice(2));
    const ys = [xs[0], ws[0], ...g.out];
    const b = new GraphBuilder('dw');
    // The batch axis is symbolic, as in training graphs.
    const x = b.input('x', 'float32', ['N', ...xs.slice(1)]);
    const dy = b.input('dy', 'float32', ['N', ...ys.slice(1)]);
    const w = b.input('w', 'float32', ws);
    b.output(patchWeightGrad(b, x, dy, w, g, chunks));
    const xv = randomData(
      xs.reduce((p, d) => p * d, 1),
      rand,
    );
    const dyv = randomData(
      ys.reduce((p, d) => p * d, 1),
      rand,
    );
    const session = await ort.InferenceSession.create(encodeModel(b.build()));
    try {
      const out = await session.run({
        x: new ort.Tensor('float32', xv, xs),
        dy: new ort.Tensor('float32', dyv, ys),
        w: new ort.Tensor('float32', new Float32Array(ws.reduce((p, d) => p * d, 1)), ws),
      });
      const got = Object.values(out)[0];
      expect(got.dims).toEqual(ws);
      const want = referenceWeightGrad(xv, xs, dyv, ys, ws.slice(2), {
        strides: geo.strides,
        dilations: geo.dilations,
        pads: geo.pads,
      });
      const data = got.data as Float32Array;
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(data[i] - want[i]));
      expect(worst).toBeLessThan(1e-4);
    } finally {
      await session.release();
    }
  });

  it('is planned only for small group-1 layers, with more chunks for larger patches', () => {
    expect(patchChunks(1, [5, 5], [28, 28], 1)).toBe(5); // LeNet conv1: 19,600 floats per sample
    expect(patchChunks(6, [5, 5], [10, 10], 1)).toBe(4); // LeNet conv2: 15,000
    expect(patchChunks(3, [3, 3], [4, 4], 1)).toBe(1);
    expect(patchChunks(64, [3, 3], [28, 28], 1)).toBeUndefined(); // 451,584 floats per sample
    expect(patchChunks(4, [3, 3], [8, 8], 4)).toBeUndefined(); // grouped
  });
});
