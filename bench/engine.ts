/**
 * Engine benchmark: for every zoo model and batch size, the time of the forward pass (the training forward:
 * batch statistics and loss) and of the whole training step (forward + backward, all gradients and updated
 * buffers), one onnxruntime thread. Forward and training step alternate after a warm-up (at least `repeats`
 * pairs and 2 s of training steps); each figure is the minimum over the runs, which filters out interference
 * from other processes on a shared machine (the median is reported too).
 *
 *   spirt bench engine [--json] [--models a,b] [--batches 64,256] [--repeats 10] [--threads 1]
 */
import { createTrainer } from '../lib/engine';
import { ZOO_MODELS } from '../lib/models';
import { seededRandom } from '../lib/models/init';

export interface EngineBenchResult {
  model: string;
  params: number;
  batch: number;
  forward_ms: number;
  train_step_ms: number;
  /** train_step_ms / forward_ms */
  ratio: number;
  forward_median_ms: number;
  train_step_median_ms: number;
}

interface Options {
  json: boolean;
  models: string[];
  batches: number[];
  repeats: number;
  threads: number;
}

function parse(argv: string[]): Options {
  const get = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  return {
    json: argv.includes('--json'),
    models: (get('--models') ?? ZOO_MODELS.filter((m) => m !== 'softmax').join(',')).split(','),
    batches: (get('--batches') ?? '64,256').split(',').map(Number),
    repeats: Number(get('--repeats') ?? 10),
    threads: Number(get('--threads') ?? 1),
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function elapsedMs(fn: () => Promise<unknown>): Promise<number> {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

export async function benchModel(
  model: string,
  batch: number,
  repeats: number,
  threads: number,
): Promise<EngineBenchResult> {
  const trainer = await createTrainer(model, { intraOpNumThreads: threads });
  try {
    const rand = seededRandom(batch);
    const sample = trainer.sampleShape.reduce((p, d) => p * d, 1);
    const images = Float32Array.from({ length: batch * sample }, () => 2 * rand() - 1);
    const labels = Uint8Array.from({ length: batch }, () => Math.floor(rand() * trainer.classes));
    const params = trainer.initParams(1);
    const buffers = trainer.initBuffers();
    // Forward and training step interleaved per repeat so that machine noise hits both alike.
    const forward: number[] = [];
    const train: number[] = [];
    await trainer.forwardLoss(params, buffers, images, labels, batch);
    await trainer.trainStep(params, buffers, images, labels, batch);
    // At least `repeats` pairs and at least 2 s of training steps: millisecond-scale models get hundreds of
    // samples, so the minimum is not at the mercy of a busy neighbour.
    let spent = 0;
    for (let i = 0; i < repeats || spent < 2000; i++) {
      forward.push(await elapsedMs(() => trainer.forwardLoss(params, buffers, images, labels, batch)));
      train.push(await elapsedMs(() => trainer.trainStep(params, buffers, images, labels, batch)));
      spent += train[train.length - 1];
    }
    const forwardMs = Math.min(...forward);
    const trainMs = Math.min(...train);
    return {
      model,
      params: trainer.layout.size,
      batch,
      forward_ms: round(forwardMs),
      train_step_ms: round(trainMs),
      ratio: round(trainMs / forwardMs),
      forward_median_ms: round(median(forward)),
      train_step_median_ms: round(median(train)),
    };
  } finally {
    await trainer.dispose();
  }
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

export async function main(argv: string[]): Promise<void> {
  const o = parse(argv);
  const results: EngineBenchResult[] = [];
  for (const model of o.models) {
    for (const batch of o.batches) {
      const r = await benchModel(model, batch, o.repeats, o.threads);
      results.push(r);
      if (!o.json) {
        console.log(
          `${model.padEnd(20)} batch ${String(batch).padStart(4)}  forward ${r.forward_ms.toFixed(1).padStart(9)} ms  train step ${r.train_step_ms.toFixed(1).padStart(9)} ms  ratio ${r.ratio.toFixed(2)}`,
        );
      }
    }
  }
  if (o.json) console.log(JSON.stringify({ suite: 'engine', threads: o.threads, repeats: o.repeats, results }));
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
