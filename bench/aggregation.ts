// `spirt bench aggregation [--json] [--floats N] [--reps 3] [--path module|lua|client]`
//
// The cost of every aggregation rule inside one Redis, relative to plain mean measured side by side in the
// same run, at resnet18's gradient size by default (11,175,370 floats; --model or --floats to change it). Zeno
// includes its n + 1 forward passes of the model on 64 samples. Rules run at n = 4 inputs with f = 1,
// except Krum / Multi-Krum (n = 5, their smallest n at f = 1) and Bulyan (n = 7); each ratio is against the
// mean over the same n. Median of --reps runs, in milliseconds. The target: MeaMed <= 3x mean (the paper 8.2x).
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import type { RobustConfig } from '../lib/aggregation/rule';
import { ConfigError } from '../lib/errors/config-error';
import { robustAggregate } from '../lib/redis/robust-aggregate';
import type { TensorOpsPath } from '../lib/redis/tensor-ops';
import { readToolchain } from '../lib/stack/paths';
import { freePort } from '../lib/stack/ports';
import { startRedisServer } from '../lib/stack/redis-process';
import { gatherBatch, loadDataset } from '../lib/data';
import { createTrainer } from '../lib/engine';
import { zenoScoresOf } from '../lib/engine/zeno';
import { bufferToFloat32, float32ToBuffer } from '../lib/tensor/float32';

interface Case {
  name: string;
  n: number;
  config: RobustConfig;
}

const CASES: Case[] = [
  { name: 'mean', n: 4, config: { aggregation: 'mean', byzantineF: 1 } },
  { name: 'median', n: 4, config: { aggregation: 'median', byzantineF: 1 } },
  { name: 'trimmed-mean', n: 4, config: { aggregation: 'trimmed-mean', byzantineF: 1 } },
  { name: 'meamed', n: 4, config: { aggregation: 'meamed', byzantineF: 1 } },
  { name: 'geomed', n: 4, config: { aggregation: 'geomed', byzantineF: 1 } },
  { name: 'centered-clipping', n: 4, config: { aggregation: 'centered-clipping', byzantineF: 1 } },
  { name: 'nnm + mean', n: 4, config: { aggregation: 'mean', byzantineF: 1, preAggregation: ['nnm'] } },
  { name: 'clipping + meamed', n: 4, config: { aggregation: 'meamed', byzantineF: 1, preAggregation: ['clipping'] } },
  { name: 'zeno', n: 4, config: { aggregation: 'zeno', byzantineF: 1, learningRate: 0.05, zenoRho: 0.0005 } },
  { name: 'mean', n: 5, config: { aggregation: 'mean', byzantineF: 1 } },
  { name: 'krum', n: 5, config: { aggregation: 'krum', byzantineF: 1 } },
  { name: 'multi-krum', n: 5, config: { aggregation: 'multi-krum', byzantineF: 1 } },
  { name: 'mean', n: 7, config: { aggregation: 'mean', byzantineF: 1 } },
  { name: 'bulyan', n: 7, config: { aggregation: 'bulyan', byzantineF: 1 } },
];

export async function main(argv: string[]): Promise<void> {
  let json = false;
  let floats: number | undefined;
  let model = 'resnet18';
  let reps = 3;
  let path: TensorOpsPath = 'module';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const int = (min: number) => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < min)
        throw new ConfigError(`bench aggregation: ${a} must be an integer >= ${min}`);
      return v;
    };
    if (a === '--json') json = true;
    else if (a === '--floats') floats = int(1);
    else if (a === '--model') model = argv[++i] ?? '';
    else if (a === '--reps') reps = int(1);
    else if (a === '--path') {
      const v = argv[++i];
      if (v !== 'module' && v !== 'lua' && v !== 'client')
        throw new ConfigError('bench aggregation: --path must be module, lua or client');
      path = v;
    } else if (a === '--help' || a === '-h') {
      process.stdout.write(
        'usage: spirt bench aggregation [--json] [--model resnet18] [--floats N] [--reps 3] [--path module|lua|client]\n' +
          "  gradients of the model's size (or --floats N); Zeno scores with that model, 64 MNIST samples\n",
      );
      return;
    } else throw new ConfigError(`bench aggregation: unknown option ${a}`);
  }
  const say = (line: string) => (json ? process.stderr : process.stdout).write(line + '\n');
  const trainer = await createTrainer(model);
  const size = floats ?? trainer.layout.size;
  const toolchain = readToolchain();
  const dir = join(tmpdir(), `spirt-bench-agg-${process.pid}`);
  const port = await freePort();
  const password = `bench-${process.pid}`;
  const server = await startRedisServer({
    executable: toolchain.redisServer ?? '/usr/bin/redis-server',
    port,
    password,
    dir,
    modulePath: toolchain.module,
    extraConfig: ['appendonly no', 'loglevel warning'],
  });
  const redis = new Redis({ port, host: '127.0.0.1', password, maxRetriesPerRequest: 1 });
  try {
    say(`writing 7 gradients of ${size} floats`);
    let s = 12345;
    const random = () => ((s = (s * 1664525 + 1013904223) >>> 0), s / 2 ** 32 - 0.5);
    for (let i = 0; i < 7; i++) {
      const g = new Float32Array(size);
      for (let k = 0; k < size; k++) g[k] = 0.01 * random() + (i === 6 ? -0.05 : 0.001);
      await redis.set(`g${i}`, float32ToBuffer(g));
    }
    // Zeno scores as the zeno-scores function does: parameters and candidates read from Redis, then n + 1
    // forward passes of the model on a validation batch of 64 (when the gradients have the model's size).
    const zenoScores = async (candidates: string[]) => {
      const bufs = await Promise.all(candidates.map((k) => redis.getBuffer(k)));
      const params = bufferToFloat32((await redis.getBuffer('params')) as Buffer, size, 'params');
      const gs = bufs.map((b, i) => bufferToFloat32(b as Buffer, size, candidates[i]));
      return (await zenoScoresOf(trainer, params, buffers, batch, gs, 0.05, 0.0005)).scores;
    };
    const canScore = size === trainer.layout.size;
    const buffers = trainer.initBuffers();
    const batch = { images: new Float32Array(64 * 784), labels: new Uint8Array(64), count: 64 };
    if (canScore) {
      const test = loadDataset('mnist', 'test');
      gatherBatch(
        test,
        Array.from({ length: 64 }, (_, i) => i),
        batch.images,
        batch.labels,
      );
      await redis.set('params', float32ToBuffer(trainer.initParams(1)));
    }
    const results: { rule: string; n: number; ms: number; ratio_to_mean: number }[] = [];
    const meanAt = new Map<number, number>();
    for (const c of CASES) {
      if (c.config.aggregation === 'zeno' && !canScore) continue;
      const sources = Array.from({ length: c.n }, (_, i) => `g${i}`);
      const times: number[] = [];
      for (let r = 0; r < reps; r++) {
        const t = process.hrtime.bigint();
        await robustAggregate(redis, 'out', sources, c.config, { path, zenoScores });
        times.push(Number(process.hrtime.bigint() - t) / 1e6);
      }
      times.sort((x, y) => x - y);
      const ms = times[Math.floor(times.length / 2)];
      if (c.name === 'mean') meanAt.set(c.n, ms);
      const ratio = ms / (meanAt.get(c.n) ?? ms);
      results.push({
        rule: c.name,
        n: c.n,
        ms: Math.round(ms * 10) / 10,
        ratio_to_mean: Math.round(ratio * 100) / 100,
      });
      say(`${c.name.padEnd(20)} n=${c.n}  ${ms.toFixed(1).padStart(8)} ms  ${ratio.toFixed(2)}x mean`);
    }
    const meamed = results.find((r) => r.rule === 'meamed');
    if (json)
      process.stdout.write(
        JSON.stringify({
          suite: 'aggregation',
          model,
          floats: size,
          path,
          reps,
          results,
          targets: { meamed_ratio: 3 },
          met: (meamed?.ratio_to_mean ?? Infinity) <= 3,
        }) + '\n',
      );
  } finally {
    redis.disconnect();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
