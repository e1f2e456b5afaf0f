import { createTrainer, EngineError, OnnxTrainer, type EngineTrainer } from '../../lib/engine';
import { Net, TORCH_DEFAULT } from '../../lib/models/net';
import { listModels, UnknownModelError } from '../../lib/models';
import { seededRandom } from '../../lib/models/init';
import { gatherBatch, loadDataset } from '../../lib/data';

/**
 * Per-model gradient checks on real MNIST samples. A whole network has thousands of ReLU / max-pool kinks, so a
 * plain central difference is off by O(1) whenever a kink lies inside the step, independently of the step size.
 * The check therefore uses the exact identity
 *   (L(p + e v) - L(p - e v)) / 2e  =  mean over t in [-e, e] of  grad L(p + t v) . v
 * and compares the secant with a midpoint-rule average of the engine's directional derivatives: kinks then only
 * cost quadrature error, while a wrong gradient rule still shows up in full.
 */
const BATCH = 4;
const STEP = 1e-3;
const NODES = 4;
const RTOL = 0.05;

interface Direction {
  label: string;
  v: Float32Array;
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function shifted(p: Float32Array, v: Float32Array, t: number): Float32Array {
  const q = p.slice();
  for (let i = 0; i < q.length; i++) q[i] += t * v[i];
  return q;
}

/** The gradient restricted to sampled tensors (always the first tensor and the classifier weight). */
function directions(trainer: EngineTrainer, grad: Float32Array, tensors: number, seed: number): Direction[] {
  const rand = seededRandom(seed);
  const size = trainer.layout.size;
  // Directions stay inside one tensor each: along a direction spanning every layer of a deep network at
  // initialisation the loss is too sharp for a float32 secant.
  const out: Direction[] = [];
  const entries = trainer.layout.entries;
  const picks = new Set<number>([0, entries.length - 2]);
  while (picks.size < Math.min(tensors, entries.length)) picks.add(Math.floor(rand() * entries.length));
  for (const k of picks) {
    const e = entries[k];
    const v = new Float32Array(size);
    let norm = 0;
    for (let i = 0; i < e.size; i++) norm += grad[e.offset + i] ** 2;
    norm = Math.sqrt(norm) || 1;
    for (let i = 0; i < e.size; i++) v[e.offset + i] = grad[e.offset + i] / norm;
    out.push({ label: e.name, v });
  }
  return out;
}

describe.each([
  ['mlp', 4],
  ['lenet5', 5],
  ['mobilenet_v3_small', 5],
  ['resnet18', 5],
  ['densenet121', 4],
])('%s gradient', (model, tensors) => {
  let trainer: EngineTrainer;
  afterAll(async () => trainer?.dispose());

  it('matches finite differences along sampled parameter directions', async () => {
    trainer = await createTrainer(model);
    const train = loadDataset('mnist', 'train');
    const images = new Float32Array(BATCH * 784);
    const labels = new Uint8Array(BATCH);
    gatherBatch(train, [0, 7, 14, 21], images, labels);
    const params = trainer.initParams(3);
    const buffers = trainer.initBuffers();
    const { grad } = await trainer.trainStep(params, buffers, images, labels, BATCH);
    expect(grad.every(Number.isFinite)).toBe(true);
    const failures: string[] = [];
    for (const d of directions(trainer, grad, tensors, 11)) {
      // Steps sized so the loss moves by about STEP: large enough against rounding, small against curvature.
      const step = STEP / Math.max(1, Math.abs(dot(grad, d.v)));
      const up = await trainer.forwardLoss(shifted(params, d.v, step), buffers, images, labels, BATCH);
      const down = await trainer.forwardLoss(shifted(params, d.v, -step), buffers, images, labels, BATCH);
      const secant = (up - down) / (2 * step);
      let mean = 0;
      for (let k = 0; k < NODES; k++) {
        const t = -step + ((k + 0.5) * 2 * step) / NODES;
        mean +=
          dot((await trainer.trainStep(shifted(params, d.v, t), buffers, images, labels, BATCH)).grad, d.v) / NODES;
      }
      const err = Math.abs(secant - mean) / Math.max(Math.abs(secant), Math.abs(mean), 1e-2);
      if (err > RTOL) failures.push(`${d.label}: secant ${secant}, mean directional derivative ${mean}`);
    }
    expect(failures).toEqual([]);
  });
});

describe('engine contract', () => {
  let trainer: EngineTrainer;
  beforeAll(async () => {
    trainer = await createTrainer('lenet5');
  });
  afterAll(async () => trainer.dispose());

  const batch = () => ({ images: new Float32Array(2 * 784).fill(0.1), labels: Uint8Array.from([3, 7]) });

  it('lists every zoo model with its parameter count', () => {
    const models = Object.fromEntries(listModels().map((m) => [m.name, m.params]));
    expect(models).toEqual({
      softmax: 7850,
      mlp: 235146,
      lenet5: 61706,
      mobilenet_v3_small: 1527818,
      resnet18: 11175370,
      densenet121: 6957834,
    });
  });

  it('lays parameters out contiguously and initialises them deterministically per seed', () => {
    let offset = 0;
    for (const e of trainer.layout.entries) {
      expect(e.offset).toBe(offset);
      expect(e.size).toBe(e.shape.reduce((p, d) => p * d, 1));
      offset += e.size;
    }
    expect(trainer.layout.size).toBe(offset);
    expect(trainer.initParams(5)).toEqual(trainer.initParams(5));
    expect(trainer.initParams(5)).not.toEqual(trainer.initParams(6));
    // nn.Conv2d default init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = 1 * 5 * 5 for conv1.
    const conv1 = trainer.layout.entries[0];
    const w = trainer.initParams(5).subarray(conv1.offset, conv1.offset + conv1.size);
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(0.2);
    expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(0.15);
  });

  it('returns a finite loss, a full-length gradient and correct counts', async () => {
    const { images, labels } = batch();
    const params = trainer.initParams(1);
    const step = await trainer.trainStep(params, trainer.initBuffers(), images, labels, 2);
    expect(step.grad).toHaveLength(trainer.layout.size);
    expect(Number.isFinite(step.loss) && step.loss > 0).toBe(true);
    const ev = await trainer.evaluate(params, trainer.initBuffers(), images, labels, 2);
    expect(ev.count).toBe(2);
    expect(ev.correct).toBeGreaterThanOrEqual(0);
    expect(ev.correct).toBeLessThanOrEqual(2);
    expect(ev.loss).toBeCloseTo(step.loss, 4);
  });

  it('rejects a parameter vector of the wrong length', async () => {
    const { images, labels } = batch();
    const short = new Float32Array(trainer.layout.size - 1);
    await expect(trainer.trainStep(short, trainer.initBuffers(), images, labels, 2)).rejects.toThrow(EngineError);
    await expect(trainer.evaluate(short, trainer.initBuffers(), images, labels, 2)).rejects.toThrow(
      /parameter vector has 61705 floats, model lenet5 expects 61706/,
    );
  });

  it('rejects a bad batch: too few images or labels, a label outside the classes, a bad count', async () => {
    const { images, labels } = batch();
    const p = trainer.initParams(1);
    const b = trainer.initBuffers();
    await expect(trainer.trainStep(p, b, images.subarray(0, 784), labels, 2)).rejects.toThrow(
      /needs 1568 image values/,
    );
    await expect(trainer.trainStep(p, b, images, labels.subarray(0, 1), 2)).rejects.toThrow(/needs 2 labels/);
    await expect(trainer.trainStep(p, b, images, Uint8Array.from([3, 10]), 2)).rejects.toThrow(/label 10/);
    await expect(trainer.trainStep(p, b, images, labels, 0)).rejects.toThrow(EngineError);
  });

  it('rejects an unknown model name', async () => {
    await expect(createTrainer('vgg16')).rejects.toThrow(UnknownModelError);
    await expect(createTrainer('vgg16')).rejects.toThrow(/unknown model 'vgg16' \(known: softmax, mlp, lenet5/);
  });

  it('updates batch-norm running statistics PyTorch-style', async () => {
    const bn = await createTrainer('resnet18');
    try {
      const { images, labels } = batch();
      const buffers = bn.initBuffers();
      const r = await bn.trainStep(bn.initParams(1), buffers, images, labels, 2);
      const mean = bn.bufferLayout.entries.find((e) => e.name === 'bn1.running_mean')!;
      const variance = bn.bufferLayout.entries.find((e) => e.name === 'bn1.running_var')!;
      // Constant images: every bn1 channel sees one value per pixel row pattern; the running mean moves by 0.1 of
      // the batch mean and the running variance stays within (0.9, 0.9 + 0.1 * unbiased variance].
      expect(r.buffers.subarray(mean.offset, mean.offset + mean.size).some((v) => v !== 0)).toBe(true);
      expect(r.buffers.subarray(variance.offset, variance.offset + variance.size).every((v) => v >= 0.9 - 1e-6)).toBe(
        true,
      );
      expect(r.buffers).toHaveLength(bn.bufferLayout.size);
    } finally {
      await bn.dispose();
    }
  });

  it('computes running statistics exactly, also for consecutive batch norms of equal width', async () => {
    const net = new Net('bn_pair', TORCH_DEFAULT);
    const spec = net.finish(net.linear(net.flatten(net.batchNorm(net.batchNorm(net.input, 'bn1'), 'bn2')), 'fc', 10));
    const t = new OnnxTrainer('bn_pair', spec);
    try {
      const n = 3;
      const images = Float32Array.from({ length: n * 784 }, (_, i) => Math.sin(i) * 2 + 0.5);
      const labels = Uint8Array.from([1, 2, 3]);
      const mean = images.reduce((p, v) => p + v, 0) / images.length;
      const variance = images.reduce((p, v) => p + (v - mean) ** 2, 0) / images.length;
      const m = images.length;
      const r = await t.trainStep(t.initParams(1), t.initBuffers(), images, labels, n);
      const at = (name: string) => r.buffers[t.bufferLayout.entries.find((e) => e.name === name)!.offset];
      expect(at('bn1.running_mean')).toBeCloseTo(0.1 * mean, 5);
      expect(at('bn1.running_var')).toBeCloseTo(0.9 + 0.1 * variance * (m / (m - 1)), 4);
      // bn2 sees bn1's output: mean 0, variance var / (var + eps).
      expect(at('bn2.running_mean')).toBeCloseTo(0, 5);
      expect(at('bn2.running_var')).toBeCloseTo(0.9 + 0.1 * (variance / (variance + 1e-5)) * (m / (m - 1)), 4);
    } finally {
      await t.dispose();
    }
  });
});
