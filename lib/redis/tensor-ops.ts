// In-database tensor ops used by the training loop: average, SGD update, robust aggregate.
//
// Three paths, all over raw little-endian float32 Redis strings:
// - 'module': the native spirt module (SPIRT.AVERAGE / SPIRT.SGD / SPIRT.AGGREGATE), zero-copy C
//   kernels run in time slices inside Redis (docs/commands.md);
// - 'lua': sliced Lua scripts (lua/*.lua) for servers that cannot load modules;
// - 'client': fetch-process-store through ioredis (the baseline the paper compares against).
// 'auto' (the default) picks 'module' when `MODULE LIST` shows spirt, else 'lua'. The
// SPIRT_TENSOR_OPS environment variable (auto | module | lua | client) changes the default.
import type Redis from 'ioredis';
import { TensorError } from '../errors/tensor-error';
import { bufferToFloat32, float32ToBuffer, firstNonFinite } from '../tensor/float32';
import {
  isSpirtModuleLoaded,
  moduleAggregate,
  moduleAverage,
  moduleGram,
  moduleSgd,
  moduleSha256,
  moduleWeightedSum,
} from './module-commands';
import { commonByteLength, luaAggregate, luaAverage, luaGram, luaSgd, luaWeightedSum } from './tensor-lua';
import { gramOf, weightedSum } from '../aggregation/gram';
import { aggregateImpl, averageImpl, sgdImpl, type AggregateRule } from '../aggregation/reference';
import { sha256Hex } from '../crypto/canonical';

export type { AggregateRule } from '../aggregation/reference';

export type TensorOpsPath = 'auto' | 'module' | 'lua' | 'client';
export type ResolvedTensorOpsPath = Exclude<TensorOpsPath, 'auto'>;

const PATHS: readonly TensorOpsPath[] = ['auto', 'module', 'lua', 'client'];

/**
 * The default path: `SPIRT_TENSOR_OPS` when set, else 'auto'.
 * @throws TensorError when the variable holds something else.
 */
export function defaultTensorOpsPath(): TensorOpsPath {
  const env = process.env.SPIRT_TENSOR_OPS;
  if (env === undefined || env === '') return 'auto';
  if (!(PATHS as readonly string[]).includes(env)) {
    throw new TensorError(`SPIRT_TENSOR_OPS must be one of ${PATHS.join(', ')}, got "${env}"`);
  }
  return env as TensorOpsPath;
}

/**
 * Which path an op on `redis` takes.
 * @throws TensorError when 'module' is forced but the module is not loaded.
 */
export async function resolveTensorOpsPath(
  redis: Redis,
  requested: TensorOpsPath = defaultTensorOpsPath(),
): Promise<ResolvedTensorOpsPath> {
  if (requested === 'lua' || requested === 'client') return requested;
  const loaded = await isSpirtModuleLoaded(redis);
  if (requested === 'module' && !loaded) {
    throw new TensorError('tensor ops: the module path was requested but the spirt module is not loaded');
  }
  return loaded ? 'module' : 'lua';
}

export interface PathOptions {
  /** Which implementation to use. @default defaultTensorOpsPath() */
  path?: TensorOpsPath;
  /** Floats per Lua script call (Lua path only); bounds how long one call blocks the server. */
  sliceFloats?: number;
}

export interface OpResult {
  /** Floats per tensor. */
  length: number;
  path: ResolvedTensorOpsPath;
}

async function fetchAll(redis: Redis, what: string, keys: string[]): Promise<Float32Array[]> {
  const blobs = await Promise.all(keys.map((key) => redis.getBuffer(key)));
  let length: number | undefined;
  return blobs.map((blob, i) => {
    if (!blob || blob.byteLength === 0) throw new TensorError(`${what}: key ${keys[i]} is missing or empty`);
    const values = bufferToFloat32(blob, length, `${what}: key ${keys[i]}`);
    length = values.length;
    return values;
  });
}

function assertAllFinite(what: string, keys: string[], values: Float32Array[]): void {
  values.forEach((v, i) => {
    const at = firstNonFinite(v);
    if (at >= 0) throw new TensorError(`${what}: key ${keys[i]} has a non-finite value (NaN or Inf) at index ${at}`);
  });
}

/**
 * A module op (already sent) and the TTL of its destination in one round trip: the EXPIRE is sent right behind
 * the op on the same connection, so the server runs it once the op has written the destination (a client
 * blocked by a sliced op runs nothing else before the op ends). A failed op leaves nothing new to expire.
 */
async function withTtl(redis: Redis, op: Promise<number>, destKey: string, opts: { ttlSeconds?: number }) {
  if (!opts.ttlSeconds) return op;
  const [length] = await Promise.all([op, redis.expire(destKey, opts.ttlSeconds)]);
  return length;
}

async function storeWithTtl(redis: Redis, key: string, values: Float32Array, ttlSeconds?: number): Promise<void> {
  if (ttlSeconds) await redis.set(key, float32ToBuffer(values), 'EX', ttlSeconds);
  else await redis.set(key, float32ToBuffer(values));
}

export interface AverageOptions extends PathOptions {
  /** TTL in seconds for the destination (unchanged when absent). */
  ttlSeconds?: number;
  /** Reject NaN/Inf in the sources before anything is written. @default false */
  checkFinite?: boolean;
}

/**
 * Averages the raw float32 tensors at `srcKeys` into `destKey`, inside Redis (module or Lua path).
 * @throws TensorError when a source is missing, the sources differ in length, or (checkFinite) hold NaN/Inf.
 */
export async function averageTensors(
  redis: Redis,
  destKey: string,
  srcKeys: string[],
  opts: AverageOptions = {},
): Promise<OpResult> {
  if (srcKeys.length === 0) throw new TensorError('average: no source tensors');
  const path = await resolveTensorOpsPath(redis, opts.path);
  if (path === 'module') {
    const length = await withTtl(
      redis,
      moduleAverage(redis, destKey, srcKeys, opts.checkFinite ?? false),
      destKey,
      opts,
    );
    return { length, path };
  }
  if (path === 'lua') {
    const length = await luaAverage(redis, destKey, srcKeys, { ...opts, checkFinite: opts.checkFinite ?? false });
    return { length, path };
  }
  const values = await fetchAll(redis, 'average', srcKeys);
  if (opts.checkFinite) assertAllFinite('average', srcKeys, values);
  const out = averageImpl(values, 'f32');
  await storeWithTtl(redis, destKey, out, opts.ttlSeconds);
  return { length: out.length, path };
}

export interface SgdOptions {
  lr: number;
  /** Momentum factor; > 0 needs momentumKey. @default 0 */
  momentum?: number;
  /** Momentum buffer key (created on the first step as buf = gradient, like PyTorch). */
  momentumKey?: string;
  /** @default 0 */
  weightDecay?: number;
  /** Nesterov momentum. @default false */
  nesterov?: boolean;
  /** Reject NaN/Inf in params, gradient and momentum buffer before anything is written. @default true */
  checkFinite?: boolean;
}

/**
 * In-place SGD on the raw float32 parameters at `paramsKey` (PyTorch semantics, dampening 0):
 * `d = g + wd*p; v = m*v + d; p = p - lr*v` (or `p = p - lr*d` without momentum).
 * @throws TensorError on a missing key, a length mismatch, or (checkFinite) a non-finite value.
 */
export async function sgdUpdate(
  redis: Redis,
  paramsKey: string,
  gradKey: string,
  opts: SgdOptions,
  pathOpts: PathOptions = {},
): Promise<OpResult> {
  const checkFinite = opts.checkFinite ?? true;
  const momentum = opts.momentum ?? 0;
  if (momentum > 0 && !opts.momentumKey) throw new TensorError('sgd: momentum needs a momentum buffer key');
  const path = await resolveTensorOpsPath(redis, pathOpts.path);
  if (path === 'module') {
    const length = await moduleSgd(redis, paramsKey, gradKey, { ...opts, checkFinite });
    return { length, path };
  }
  if (path === 'lua') {
    const length = await luaSgd(redis, paramsKey, gradKey, opts, { sliceFloats: pathOpts.sliceFloats, checkFinite });
    return { length, path };
  }
  const keys = [paramsKey, gradKey];
  const [params, grad] = await fetchAll(redis, 'sgd', keys);
  let buf: Float32Array | null = null;
  let init = false;
  if (momentum > 0) {
    const blob = await redis.getBuffer(opts.momentumKey as string);
    init = !blob || blob.byteLength === 0;
    buf = init
      ? new Float32Array(params.length)
      : bufferToFloat32(blob as Buffer, params.length, 'sgd: momentum buffer');
  }
  if (checkFinite)
    assertAllFinite(
      'sgd',
      [...keys, ...(buf && !init ? [opts.momentumKey as string] : [])],
      [params, grad, ...(buf && !init ? [buf] : [])],
    );
  sgdImpl(params, grad, buf, opts, init, 'f32');
  const tx = redis.multi().set(paramsKey, float32ToBuffer(params));
  if (buf && opts.momentumKey) tx.set(opts.momentumKey, float32ToBuffer(buf));
  await tx.exec();
  return { length: params.length, path };
}

export type AggregateOptions = AverageOptions;

/**
 * Per-coordinate robust aggregate (mean, median, trimmed mean, MeaMed) of the raw float32 tensors
 * at `srcKeys` into `destKey`, inside Redis.
 * @throws TensorError on missing keys, length mismatch, 2f >= n, or (checkFinite) NaN/Inf.
 */
export async function aggregateTensors(
  redis: Redis,
  destKey: string,
  rule: AggregateRule,
  srcKeys: string[],
  opts: AggregateOptions = {},
): Promise<OpResult> {
  if (srcKeys.length === 0) throw new TensorError('aggregate: no source tensors');
  const path = await resolveTensorOpsPath(redis, opts.path);
  if (path === 'module') {
    const length = await withTtl(
      redis,
      moduleAggregate(redis, destKey, rule, srcKeys, opts.checkFinite ?? false),
      destKey,
      opts,
    );
    return { length, path };
  }
  if (path === 'lua') {
    const length = await luaAggregate(redis, destKey, rule, srcKeys, {
      ...opts,
      checkFinite: opts.checkFinite ?? false,
    });
    return { length, path };
  }
  await commonByteLength(redis, 'aggregate', srcKeys);
  const f = rule.kind === 'trimmedMean' || rule.kind === 'meamed' ? rule.f : 0;
  if (f > 0 && 2 * f >= srcKeys.length)
    throw new TensorError(`aggregate: f=${f} needs more than ${2 * f} sources (2f < n), got ${srcKeys.length}`);
  const values = await fetchAll(redis, 'aggregate', srcKeys);
  if (opts.checkFinite) assertAllFinite('aggregate', srcKeys, values);
  const out = aggregateImpl(values, rule, 'f32');
  await storeWithTtl(redis, destKey, out, opts.ttlSeconds);
  return { length: out.length, path };
}

/**
 * The Gram matrix <x_i, x_j> of the tensors at `keys` (double precision), computed inside Redis: only the
 * n x n numbers leave it (`SPIRT.GRAM` in the module, a sliced Lua script otherwise); 'client' fetches the
 * tensors (the baseline).
 * @throws TensorError when a key is missing or the lengths differ
 */
export async function gramTensors(redis: Redis, keys: string[], opts: PathOptions = {}): Promise<number[][]> {
  if (keys.length === 0) throw new TensorError('gram: no tensors');
  const path = await resolveTensorOpsPath(redis, opts.path);
  if (path === 'module') return moduleGram(redis, keys);
  if (path === 'lua') return luaGram(redis, keys, opts);
  return gramOf(await fetchAll(redis, 'gram', keys));
}

/**
 * The SHA-256 (hex) of the tensor bytes at `key`: inside Redis with the module (`SPIRT.SHA256`: only the 64
 * hex digits leave it), else read out and hashed here (Lua has no SHA-256 of a value).
 * @throws TensorError when the key is missing or does not hold whole float32 values
 */
export async function sha256Tensor(redis: Redis, key: string, opts: PathOptions = {}): Promise<string> {
  const path = await resolveTensorOpsPath(redis, opts.path);
  if (path === 'module') return moduleSha256(redis, key);
  const bytes = await redis.getBuffer(key);
  if (!bytes) throw new TensorError(`sha256: key ${key} does not exist`);
  if (bytes.length === 0 || bytes.length % 4 !== 0)
    throw new TensorError(`sha256: key ${key} holds ${bytes.length} bytes, not a whole number of float32 values`);
  return sha256Hex(bytes);
}

/**
 * `destKey` = sum_i weights[i] * x_i over the tensors at `srcKeys`, inside Redis (`SPIRT.WSUM`, or sliced
 * Lua; fetch-process-store on 'client').
 * @throws TensorError on a missing key, a length mismatch, or a weight count that does not match
 */
export async function weightedSumTensors(
  redis: Redis,
  destKey: string,
  srcKeys: string[],
  weights: number[],
  opts: PathOptions & { ttlSeconds?: number } = {},
): Promise<OpResult> {
  if (srcKeys.length === 0 || weights.length !== srcKeys.length)
    throw new TensorError(`wsum: ${srcKeys.length} sources and ${weights.length} weights`);
  if (!weights.every(Number.isFinite)) throw new TensorError('wsum: a weight is not a finite number');
  const path = await resolveTensorOpsPath(redis, opts.path);
  if (path === 'module') {
    const length = await withTtl(redis, moduleWeightedSum(redis, destKey, srcKeys, weights), destKey, opts);
    return { length, path };
  }
  if (path === 'lua') return { length: await luaWeightedSum(redis, destKey, srcKeys, weights, opts), path };
  const out = weightedSum(await fetchAll(redis, 'wsum', srcKeys), weights);
  await storeWithTtl(redis, destKey, out, opts.ttlSeconds);
  return { length: out.length, path };
}
