import * as ort from 'onnxruntime-node';
import { mkdtempSync, readFileSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { GraphBuilder } from '../../lib/onnx/builder';
import { encodeModel } from '../../lib/onnx/serialize';
import { ModelDecodeError } from '../../lib/onnx/model-decode-error';
import { UnsupportedOpError } from '../../lib/onnx/unsupported-op-error';
import { importTrainingGraph } from '../../lib/onnx/import';
import { gradName } from '../../lib/onnx/autodiff';
import { attr } from '../../lib/onnx/types';
import { importModelCommand } from '../../lib/models/cli';
import { dumpGraph } from '../../lib/onnx/dump';

/** A small "exported" forward model: weights as initializers, eval-mode BN with running stats, PyTorch names. */
function exportedModel(extraOp?: string): Uint8Array {
  const b = new GraphBuilder('exported');
  b.input('input', 'float32', ['batch', 1, 8, 8]);
  const w = b.addInitializer('conv.weight', {
    dtype: 'float32',
    dims: [4, 1, 3, 3],
    data: Float32Array.from({ length: 36 }, (_, i) => Math.sin(i)),
  });
  const c = b.addInitializer('conv.bias', { dtype: 'float32', dims: [4], data: new Float32Array(4).fill(0.1) });
  const g = b.addInitializer('bn.weight', { dtype: 'float32', dims: [4], data: new Float32Array(4).fill(1) });
  const be = b.addInitializer('bn.bias', { dtype: 'float32', dims: [4], data: new Float32Array(4) });
  const rm = b.addInitializer('bn.running_mean', { dtype: 'float32', dims: [4], data: new Float32Array(4) });
  const rv = b.addInitializer('bn.running_var', { dtype: 'float32', dims: [4], data: new Float32Array(4).fill(1) });
  let x = b.op('Conv', ['input', w, c], { pads: attr.ints([1, 1, 1, 1]) }, 'Conv_0');
  x = b.op('BatchNormalization', [x, g, be, rm, rv], { epsilon: attr.float(1e-5) }, 'BatchNormalization_1');
  x = b.op('Relu', [x], {}, 'Relu_2');
  if (extraOp) x = b.op(extraOp, [x], {}, `${extraOp}_3`);
  x = b.op('GlobalAveragePool', [x], {}, 'GlobalAveragePool_4');
  x = b.op('Flatten', [x], { axis: attr.int(1) }, 'Flatten_5');
  const fw = b.addInitializer('fc.weight', {
    dtype: 'float32',
    dims: [10, 4],
    data: Float32Array.from({ length: 40 }, (_, i) => Math.cos(i)),
  });
  const fb = b.addInitializer('fc.bias', { dtype: 'float32', dims: [10], data: new Float32Array(10) });
  b.output(b.op('Gemm', [x, fw, fb], { transB: attr.int(1) }, 'Gemm_6'));
  return encodeModel(b.build());
}

describe('model import', () => {
  it('turns a forward model into a training graph that onnxruntime runs', async () => {
    const { model, training } = importTrainingGraph(exportedModel());
    expect(model.params.map((p) => p.name)).toEqual([
      'conv.weight',
      'conv.bias',
      'bn.weight',
      'bn.bias',
      'fc.weight',
      'fc.bias',
    ]);
    expect(model.buffers.map((p) => p.name)).toEqual(['bn.running_mean', 'bn.running_var']);
    const session = await ort.InferenceSession.create(encodeModel(training));
    const feeds: Record<string, ort.Tensor> = {
      input: new ort.Tensor(
        'float32',
        Float32Array.from({ length: 3 * 64 }, (_, i) => Math.cos(i * 0.3)),
        [3, 1, 8, 8],
      ),
      labels: new ort.Tensor('int64', BigInt64Array.from([1n, 4n, 9n]), [3]),
    };
    for (const p of [...model.params, ...model.buffers])
      feeds[p.name] = new ort.Tensor('float32', p.value.data as Float32Array, p.shape);
    const out = await session.run(feeds);
    expect(Number(out.loss.data[0])).toBeGreaterThan(0);
    expect(out[gradName('conv.weight')].dims).toEqual([4, 1, 3, 3]);
    expect(Array.from(out[gradName('fc.bias')].data as Float32Array).some((v) => v !== 0)).toBe(true);
  });

  it('names an op without a gradient rule together with its node', () => {
    expect(() => importTrainingGraph(exportedModel('Abs'))).toThrow(UnsupportedOpError);
    expect(() => importTrainingGraph(exportedModel('Abs'))).toThrow(/Abs at node 'Abs_3'/);
  });

  it('rejects a corrupt file with a clear error', () => {
    const good = exportedModel();
    expect(() => importTrainingGraph(good.subarray(0, good.length >> 1))).toThrow(ModelDecodeError);
    expect(() => importTrainingGraph(Uint8Array.from({ length: 64 }, (_, i) => (i * 37) & 0xff))).toThrow(
      ModelDecodeError,
    );
    expect(() => importTrainingGraph(new Uint8Array(0))).toThrow(/not a valid ONNX model/);
  });

  it('spirt model import writes the training graph and its layout manifest', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spirt-import-'));
    const src = join(dir, 'net.onnx');
    writeFileSync(src, exportedModel());
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      await importModelCommand(['import', src, '--out', join(dir, 'train.onnx')]);
    } finally {
      log.mockRestore();
    }
    const manifest = JSON.parse(readFileSync(join(dir, 'train.onnx.json'), 'utf8'));
    expect(manifest.params.size).toBe(36 + 4 + 4 + 4 + 40 + 10);
    expect(manifest.buffers.size).toBe(8);
    await expect(ort.InferenceSession.create(readFileSync(join(dir, 'train.onnx')))).resolves.toBeDefined();
    await expect(importModelCommand([join(dir, 'missing.onnx')])).rejects.toThrow(/cannot read/);
  });
});

describe('graph dump', () => {
  it('lists inputs, nodes with inferred shapes and attributes, and outputs', () => {
    const { training } = importTrainingGraph(exportedModel());
    const text = dumpGraph(training);
    expect(text).toMatch(/^graph /);
    expect(text).toContain('input  conv.weight: float32[4,1,3,3]');
    expect(text).toMatch(/Conv_0_out|= Conv\(input, conv\.weight, conv\.bias\) \{pads=\[1,1,1,1\]\}/);
    expect(text).toContain('output grad:fc.weight: float32[10,4]');
    expect(text.split('\n').length).toBeGreaterThan(training.nodes.length);
  });
});
