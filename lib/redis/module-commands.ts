// Typed wrappers for the commands of the native spirt module (redisai-module/, docs/commands.md).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Redis from 'ioredis';
import { packageRoot } from '../stack/paths';
import { TensorError } from '../errors/tensor-error';
import { float32ToBuffer } from '../tensor/float32';
import type { AggregateRule, SgdHyper } from '../aggregation/reference';

const moduleState = new WeakMap<Redis, Promise<boolean>>();

/**
 * True when the spirt module is loaded in the server behind `redis` (cached per connection).
 * Uses `MODULE LIST`; a user without that permission falls back to `COMMAND INFO SPIRT.AVERAGE`.
 */
export function isSpirtModuleLoaded(redis: Redis): Promise<boolean> {
  let known = moduleState.get(redis);
  if (!known) {
    known = detectModule(redis);
    moduleState.set(redis, known);
  }
  return known;
}

/** Forget the cached answer (after MODULE LOAD/UNLOAD or a reconnect to another server). */
export function forgetModuleState(redis: Redis): void {
  moduleState.delete(redis);
}

async function detectModule(redis: Redis): Promise<boolean> {
  try {
    const modules = (await redis.call('MODULE', 'LIST')) as unknown[][];
    return modules.some((entry) => {
      for (let i = 0; i + 1 < entry.length; i += 2) {
        if (String(entry[i]) === 'name' && String(entry[i + 1]) === 'spirt') return true;
      }
      return false;
    });
  } catch {
    try {
      const info = (await redis.call('COMMAND', 'INFO', 'SPIRT.AVERAGE')) as unknown[];
      return Array.isArray(info) && info[0] !== null;
    } catch {
      return false;
    }
  }
}

/** Turns a module error reply into a TensorError with the server's message. */
async function moduleCall<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new TensorError(`${what}: ${message}`);
  }
}

export interface StoredTensor {
  dtype: 'FLOAT';
  shape: number[];
  data: Float32Array;
}

/** `AI.TENSORSET key FLOAT ...shape BLOB data`. @throws TensorError when the server rejects it. */
export async function tensorSet(redis: Redis, key: string, shape: number[], data: Float32Array): Promise<void> {
  await moduleCall('AI.TENSORSET', () =>
    redis.call('AI.TENSORSET', key, 'FLOAT', ...shape.map(String), 'BLOB', float32ToBuffer(data)),
  );
}

/** `AI.TENSORGET key META BLOB`, decoded. @throws TensorError when the key is missing or not a tensor. */
export async function tensorGet(redis: Redis, key: string): Promise<StoredTensor> {
  const reply = await moduleCall(
    'AI.TENSORGET',
    () => redis.callBuffer('AI.TENSORGET', key, 'META', 'BLOB') as Promise<unknown[]>,
  );
  const fields = new Map<string, unknown>();
  for (let i = 0; i + 1 < reply.length; i += 2) fields.set(String(reply[i]), reply[i + 1]);
  const blob = fields.get('blob') as Buffer;
  const shape = (fields.get('shape') as unknown[]).map(Number);
  const data = new Float32Array(blob.byteLength / 4);
  new Uint8Array(data.buffer).set(blob);
  return { dtype: 'FLOAT', shape, data };
}

/** `SPIRT.AVERAGE dest ...srcs [CHECKFINITE]`; resolves to the number of floats written. */
export function moduleAverage(redis: Redis, dest: string, srcs: string[], checkFinite = false): Promise<number> {
  const args = [dest, ...srcs, ...(checkFinite ? ['CHECKFINITE'] : [])];
  return moduleCall('SPIRT.AVERAGE', async () => Number(await redis.call('SPIRT.AVERAGE', ...args)));
}

export interface ModuleSgdOptions extends SgdHyper {
  /** Momentum buffer key; required when momentum > 0. */
  momentumKey?: string;
  /** @default false */
  checkFinite?: boolean;
}

/** SPIRT.SGD's options after `params grad`: `LR lr [MOMENTUM m buf] [NESTEROV] [WEIGHTDECAY wd] [CHECKFINITE]`. */
function sgdOptions(opts: ModuleSgdOptions): string[] {
  const args: string[] = ['LR', String(opts.lr)];
  if ((opts.momentum ?? 0) > 0) {
    if (!opts.momentumKey) throw new TensorError('sgd: momentum needs a momentum buffer key');
    args.push('MOMENTUM', String(opts.momentum), opts.momentumKey);
    if (opts.nesterov) args.push('NESTEROV');
  }
  if ((opts.weightDecay ?? 0) !== 0) args.push('WEIGHTDECAY', String(opts.weightDecay));
  if (opts.checkFinite) args.push('CHECKFINITE');
  return args;
}

/** `SPIRT.SGD params grad LR lr [MOMENTUM m buf] [NESTEROV] [WEIGHTDECAY wd] [CHECKFINITE]`. */
export function moduleSgd(redis: Redis, params: string, grad: string, opts: ModuleSgdOptions): Promise<number> {
  const args = [params, grad, ...sgdOptions(opts)];
  return moduleCall('SPIRT.SGD', async () => Number(await redis.call('SPIRT.SGD', ...args)));
}

let sgdOnceLua: string | null = null;
type SgdOnceCall = (numKeys: number, ...args: string[]) => Promise<number>;

/**
 * SPIRT.SGD for training step (epoch, step), applied once: atomically with the applied-step marker at
 * `marker` (`epoch:step`, lua/sgd-once.lua), so a retried or replayed update of a step at or before the
 * marker changes nothing, and no crash can separate the update from its marker. One round trip.
 * @returns whether the update was applied now
 * @throws TensorError as SPIRT.SGD (nothing changed, the marker included)
 */
export async function moduleSgdOnce(
  redis: Redis,
  marker: string,
  at: { epoch: number; step: number },
  params: string,
  grad: string,
  opts: ModuleSgdOptions,
): Promise<boolean> {
  const named = redis as unknown as { spirtSgdOnce?: SgdOnceCall };
  if (!named.spirtSgdOnce) {
    sgdOnceLua ??= readFileSync(join(packageRoot(), 'lua', 'sgd-once.lua'), 'utf8');
    redis.defineCommand('spirtSgdOnce', { lua: sgdOnceLua });
  }
  const options = sgdOptions(opts);
  const keys = [marker, params, grad, ...(opts.momentum && opts.momentumKey ? [opts.momentumKey] : [])];
  const applied = await moduleCall('SPIRT.SGD', () =>
    named.spirtSgdOnce!(keys.length, ...keys, String(at.epoch), String(at.step), ...options),
  );
  return Number(applied) === 1;
}

/** The rule as SPIRT.AGGREGATE arguments. */
export function ruleArgs(rule: AggregateRule): string[] {
  switch (rule.kind) {
    case 'mean':
      return ['MEAN'];
    case 'median':
      return ['MEDIAN'];
    case 'trimmedMean':
      return ['TRIMMEDMEAN', String(rule.f)];
    case 'meamed':
      return ['MEAMED', String(rule.f)];
  }
}

/** `SPIRT.AGGREGATE dest RULE [f] ...srcs [CHECKFINITE]`. */
export function moduleAggregate(
  redis: Redis,
  dest: string,
  rule: AggregateRule,
  srcs: string[],
  checkFinite = false,
): Promise<number> {
  const args = [dest, ...ruleArgs(rule), ...srcs, ...(checkFinite ? ['CHECKFINITE'] : [])];
  return moduleCall('SPIRT.AGGREGATE', async () => Number(await redis.call('SPIRT.AGGREGATE', ...args)));
}

/** `SPIRT.GRAM src [src ...]`: the inner products of the sources, as an n x n matrix. */
export async function moduleGram(redis: Redis, srcs: string[]): Promise<number[][]> {
  const flat = await moduleCall('SPIRT.GRAM', async () => (await redis.call('SPIRT.GRAM', ...srcs)) as string[]);
  const n = srcs.length;
  const g = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  let p = 0;
  for (let i = 0; i < n; i++)
    for (let j = i; j < n; j++) {
      const v = Number(flat[p++]);
      g[i][j] = v;
      g[j][i] = v;
    }
  return g;
}

/** `SPIRT.SHA256 key`: the SHA-256 of the key's bytes (hex), computed inside Redis. */
export function moduleSha256(redis: Redis, key: string): Promise<string> {
  return moduleCall('SPIRT.SHA256', async () => (await redis.call('SPIRT.SHA256', key)) as string);
}

/** `SPIRT.WSUM dest n src [src ...] w [w ...]`: dest = sum of w_i src_i (double precision, stored as float32). */
export function moduleWeightedSum(redis: Redis, dest: string, srcs: string[], weights: number[]): Promise<number> {
  const args = [dest, String(srcs.length), ...srcs, ...weights.map((w) => w.toPrecision(17))];
  return moduleCall('SPIRT.WSUM', async () => Number(await redis.call('SPIRT.WSUM', ...args)));
}
