import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../../lib/onnx/builder';
import { buildGradientGraph, gradName } from '../../lib/onnx/autodiff';
import { encodeModel } from '../../lib/onnx/serialize';
import { seededRandom } from '../../lib/models/init';
import { attr } from '../../lib/onnx/types';

/** One input of an op under test. */
export interface TestInput {
  name: string;
  shape: number[];
  /** Values; random U(-1, 1) when omitted. */
  data?: Float32Array;
  /** Differentiate with respect to this input. @default true */
  grad?: boolean;
  dtype?: 'float32' | 'int64';
  int64?: BigInt64Array;
}

export interface FdOptions {
  /** Central-difference step. @default 1e-2 */
  eps?: number;
  /** Relative tolerance on |analytic - numeric| / max(|analytic|, |numeric|, floor). @default 2e-2 */
  rtol?: number;
  /** Magnitude below which differences are judged absolutely (against rtol * floor). @default 1e-2 */
  floor?: number;
  /** Coordinates checked per input (all when the input is smaller). @default 48 */
  samples?: number;
  seed?: number;
}

export interface FdReport {
  checked: number;
  worst: number;
  failures: string[];
}

export function randomData(n: number, rand: () => number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (2 * rand() - 1) * scale;
  return out;
}

/**
 * Finite-difference check of the autodiff for a small graph: loss = sum(f(inputs) * R) with a fixed random R,
 * analytic gradients from the training graph, numeric ones by central differences on the same graph.
 */
export async function checkGradients(
  inputs: TestInput[],
  build: (b: GraphBuilder, names: string[]) => string,
  opts: FdOptions = {},
): Promise<FdReport> {
  const rand = seededRandom(opts.seed ?? 7);
  const b = new GraphBuilder('fd');
  const names = inputs.map((i) => b.input(i.name, i.dtype ?? 'float32', i.shape));
  const y = build(b, names);
  const ys = b.staticShape(y);
  const r = b.constFloat(
    randomData(
      ys.reduce((p, d) => p * d, 1),
      rand,
    ),
    ys,
    'probe',
  );
  const loss = b.op('ReduceSum', [b.op('Mul', [y, r])], { keepdims: attr.int(0) });
  b.output(loss);
  const wrt = inputs.filter((i) => i.grad !== false && (i.dtype ?? 'float32') === 'float32').map((i) => i.name);
  const graph = buildGradientGraph(b.build(), { loss, wrt });
  const session = await ort.InferenceSession.create(encodeModel(graph), { intraOpNumThreads: 1 });
  try {
    const values = inputs.map(
      (i) =>
        i.data ??
        randomData(
          i.shape.reduce((p, d) => p * d, 1),
          rand,
        ),
    );
    const feeds = (vals: Float32Array[]) => {
      const f: Record<string, ort.Tensor> = {};
      inputs.forEach((inp, k) => {
        f[inp.name] = inp.int64
          ? new ort.Tensor('int64', inp.int64, inp.shape)
          : new ort.Tensor('float32', vals[k], inp.shape);
      });
      return f;
    };
    const analytic = await session.run(feeds(values));
    const lossAt = async (vals: Float32Array[]) => Number((await session.run(feeds(vals), [loss]))[loss].data[0]);
    const eps = opts.eps ?? 1e-2;
    const rtol = opts.rtol ?? 2e-2;
    const floor = opts.floor ?? 1e-2;
    const report: FdReport = { checked: 0, worst: 0, failures: [] };
    for (const name of wrt) {
      const k = inputs.findIndex((i) => i.name === name);
      const g = analytic[gradName(name)].data as Float32Array;
      const x = values[k];
      const count = Math.min(x.length, opts.samples ?? 48);
      const coords =
        x.length <= count ? Array.from(x.keys()) : Array.from({ length: count }, () => Math.floor(rand() * x.length));
      for (const c of coords) {
        const vals = values.map((v) => v.slice());
        vals[k][c] = x[c] + eps;
        const up = await lossAt(vals);
        vals[k][c] = x[c] - eps;
        const down = await lossAt(vals);
        const numeric = (up - down) / (2 * eps);
        const err = Math.abs(numeric - g[c]) / Math.max(Math.abs(numeric), Math.abs(g[c]), floor);
        report.checked++;
        report.worst = Math.max(report.worst, err);
        if (err > rtol) report.failures.push(`${name}[${c}]: analytic ${g[c]} numeric ${numeric}`);
      }
    }
    return report;
  } finally {
    await session.release();
  }
}
