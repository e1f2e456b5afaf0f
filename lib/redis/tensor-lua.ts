// The Lua path of the in-database tensor ops, for Redis servers that cannot load the spirt module.
// Each op runs as many short script calls over consecutive slices (lua/*.lua), so no single call
// blocks the server for long. Scripts are loaded once per connection and called by SHA.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Redis from 'ioredis';
import { TensorError } from '../errors/tensor-error';
import { packageRoot } from '../stack/paths';
import type { AggregateRule, SgdHyper } from '../aggregation/reference';

type ScriptCall = (numKeys: number, ...args: (string | number)[]) => Promise<unknown>;

const SCRIPTS = {
  spirtAverageSlice: 'average-slice.lua',
  spirtSgdSlice: 'sgd-slice.lua',
  spirtAggregateSlice: 'aggregate-slice.lua',
  spirtCheckFiniteSlice: 'check-finite-slice.lua',
  spirtGramSlice: 'gram-slice.lua',
  spirtWsumSlice: 'wsum-slice.lua',
} as const;
type ScriptName = keyof typeof SCRIPTS;

const sources = new Map<ScriptName, string>();

function script(redis: Redis, name: ScriptName): ScriptCall {
  const named = redis as unknown as Record<string, ScriptCall | undefined>;
  if (!named[name]) {
    let lua = sources.get(name);
    if (!lua) {
      lua = readFileSync(join(packageRoot(), 'lua', SCRIPTS[name]), 'utf8');
      sources.set(name, lua);
    }
    redis.defineCommand(name, { lua });
  }
  return (named[name] as ScriptCall).bind(redis);
}

/**
 * Float reads one script call may do. About 2^16 reads take 5-15 ms of Lua time on a 2020s
 * x86 core (measured in docs/benchmarks.md), far under the 100 ms responsiveness target.
 */
export const LUA_READS_PER_CALL = 1 << 16;

async function luaCall<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof TensorError) throw err;
    throw new TensorError(`${what}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Byte length shared by all keys; checks they exist, match, and hold whole float32 values. */
export async function commonByteLength(redis: Redis, what: string, keys: string[]): Promise<number> {
  const lengths = await Promise.all(keys.map((key) => redis.strlen(key)));
  const bytes = lengths[0];
  lengths.forEach((len, i) => {
    if (len === 0) throw new TensorError(`${what}: key ${keys[i]} is missing or empty`);
    if (len !== bytes)
      throw new TensorError(`${what}: shape mismatch: key ${keys[i]} has ${len} bytes, expected ${bytes}`);
  });
  if (bytes % 4 !== 0) throw new TensorError(`${what}: ${bytes} bytes is not a whole number of float32 values`);
  return bytes;
}

/** Scans keys for NaN/Inf in slices. @throws TensorError naming the first bad key and index. */
export async function luaCheckFinite(redis: Redis, what: string, keys: string[], length: number, slice: number) {
  const check = script(redis, 'spirtCheckFiniteSlice');
  for (let offset = 0; offset < length; offset += slice) {
    const count = Math.min(slice, length - offset);
    const bad = await luaCall(what, () => check(keys.length, ...keys, offset, count));
    if (Array.isArray(bad)) {
      const [keyNo, index] = bad.map(Number);
      throw new TensorError(`${what}: key ${keys[keyNo - 1]} has a non-finite value (NaN or Inf) at index ${index}`);
    }
  }
}

/**
 * Creates `${destKey}:partial` at its final size up front, so the slices overwrite it in place
 * instead of growing (and reallocating, i.e. copying) a large string call after call.
 */
async function preparePartial(redis: Redis, destKey: string, bytes: number): Promise<string> {
  const tmpKey = `${destKey}:partial`;
  await redis.unlink(tmpKey);
  await redis.setrange(tmpKey, bytes - 1, '\0');
  return tmpKey;
}

/** Moves the finished partial onto destKey; the old value is freed in the background (UNLINK). */
async function publishPartial(redis: Redis, tmpKey: string, destKey: string, ttlSeconds?: number): Promise<void> {
  const tx = redis.multi().unlink(destKey).rename(tmpKey, destKey);
  if (ttlSeconds) tx.expire(destKey, ttlSeconds);
  await tx.exec();
}

export interface LuaSliceOptions {
  /** Floats per script call. @default LUA_READS_PER_CALL / (operands) */
  sliceFloats?: number;
  /** Reject NaN/Inf in the inputs before anything is written. @default false */
  checkFinite?: boolean;
}

/** Averages into `${destKey}:partial` slice by slice, then renames it onto destKey (readers never see a partial average). */
export async function luaAverage(
  redis: Redis,
  destKey: string,
  srcKeys: string[],
  opts: LuaSliceOptions & { ttlSeconds?: number } = {},
): Promise<number> {
  const bytes = await commonByteLength(redis, 'average', srcKeys);
  const length = bytes / 4;
  const slice = opts.sliceFloats ?? Math.max(1024, Math.floor(LUA_READS_PER_CALL / srcKeys.length));
  if (opts.checkFinite) await luaCheckFinite(redis, 'average', srcKeys, length, slice);
  const averageSlice = script(redis, 'spirtAverageSlice');
  const tmpKey = await preparePartial(redis, destKey, bytes);
  for (let offset = 0; offset < length; offset += slice) {
    const count = Math.min(slice, length - offset);
    await luaCall('average', () => averageSlice(1 + srcKeys.length, tmpKey, ...srcKeys, offset, count, bytes));
  }
  await publishPartial(redis, tmpKey, destKey, opts.ttlSeconds);
  return length;
}

/** In-place SGD slice by slice (params and the momentum buffer are updated in place). */
export async function luaSgd(
  redis: Redis,
  paramsKey: string,
  gradKey: string,
  hp: SgdHyper & { momentumKey?: string },
  opts: LuaSliceOptions = {},
): Promise<number> {
  const bytes = await commonByteLength(redis, 'sgd', [paramsKey, gradKey]);
  const length = bytes / 4;
  const momentum = hp.momentum ?? 0;
  const useBuf = momentum > 0;
  if (useBuf && !hp.momentumKey) throw new TensorError('sgd: momentum needs a momentum buffer key');
  let init = false;
  if (useBuf) {
    const bufLen = await redis.strlen(hp.momentumKey as string);
    if (bufLen === 0) init = true;
    else if (bufLen !== bytes)
      throw new TensorError(`sgd: shape mismatch: key ${hp.momentumKey} has ${bufLen} bytes, expected ${bytes}`);
  }
  if (hp.nesterov && !useBuf) throw new TensorError('sgd: NESTEROV needs momentum > 0');
  const keys = useBuf ? [paramsKey, gradKey, hp.momentumKey as string] : [paramsKey, gradKey];
  const slice = opts.sliceFloats ?? Math.max(1024, Math.floor(LUA_READS_PER_CALL / 4));
  if (opts.checkFinite) await luaCheckFinite(redis, 'sgd', init ? keys.slice(0, 2) : keys, length, slice);
  const sgdSlice = script(redis, 'spirtSgdSlice');
  const hpArgs = [
    String(hp.lr),
    String(momentum),
    String(hp.weightDecay ?? 0),
    hp.nesterov ? '1' : '0',
    init ? '1' : '0',
  ];
  for (let offset = 0; offset < length; offset += slice) {
    const count = Math.min(slice, length - offset);
    await luaCall('sgd', () => sgdSlice(keys.length, ...keys, offset, count, bytes, ...hpArgs));
  }
  return length;
}

/** Per-coordinate robust aggregate into `${destKey}:partial`, renamed onto destKey at the end. */
export async function luaAggregate(
  redis: Redis,
  destKey: string,
  rule: AggregateRule,
  srcKeys: string[],
  opts: LuaSliceOptions & { ttlSeconds?: number } = {},
): Promise<number> {
  const bytes = await commonByteLength(redis, 'aggregate', srcKeys);
  const length = bytes / 4;
  const f = rule.kind === 'trimmedMean' || rule.kind === 'meamed' ? rule.f : 0;
  if (f > 0 && 2 * f >= srcKeys.length)
    throw new TensorError(`aggregate: f=${f} needs more than ${2 * f} sources (2f < n), got ${srcKeys.length}`);
  // Sorting costs several reads' worth per value.
  const slice = opts.sliceFloats ?? Math.max(256, Math.floor(LUA_READS_PER_CALL / (srcKeys.length * 6)));
  if (opts.checkFinite) await luaCheckFinite(redis, 'aggregate', srcKeys, length, slice);
  const aggregateSlice = script(redis, 'spirtAggregateSlice');
  const tmpKey = await preparePartial(redis, destKey, bytes);
  for (let offset = 0; offset < length; offset += slice) {
    const count = Math.min(slice, length - offset);
    await luaCall('aggregate', () =>
      aggregateSlice(1 + srcKeys.length, tmpKey, ...srcKeys, offset, count, bytes, rule.kind, f),
    );
  }
  await publishPartial(redis, tmpKey, destKey, opts.ttlSeconds);
  return length;
}

/**
 * The Gram matrix <x_i, x_j> of the tensors at `keys`, summed slice by slice in double precision inside
 * Redis: only n(n+1)/2 numbers per slice leave the server, never a tensor.
 */
export async function luaGram(redis: Redis, keys: string[], opts: LuaSliceOptions = {}): Promise<number[][]> {
  const bytes = await commonByteLength(redis, 'gram', keys);
  const length = bytes / 4;
  const n = keys.length;
  const slice = opts.sliceFloats ?? Math.max(1024, Math.floor(LUA_READS_PER_CALL / n));
  const gramSlice = script(redis, 'spirtGramSlice');
  const g = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let offset = 0; offset < length; offset += slice) {
    const count = Math.min(slice, length - offset);
    const part = (await luaCall('gram', () => gramSlice(n, ...keys, offset, count, bytes))) as string[];
    let p = 0;
    for (let i = 0; i < n; i++)
      for (let j = i; j < n; j++) {
        const v = Number(part[p++]);
        g[i][j] += v;
        if (j !== i) g[j][i] += v;
      }
  }
  return g;
}

/** dst = sum_i w_i x_i, slice by slice inside Redis; readers never see a partial result. */
export async function luaWeightedSum(
  redis: Redis,
  destKey: string,
  srcKeys: string[],
  weights: number[],
  opts: LuaSliceOptions & { ttlSeconds?: number } = {},
): Promise<number> {
  if (weights.length !== srcKeys.length) throw new TensorError('wsum: one weight per source');
  const bytes = await commonByteLength(redis, 'wsum', srcKeys);
  const length = bytes / 4;
  const used = weights.filter((w) => w !== 0).length || 1;
  const slice = opts.sliceFloats ?? Math.max(1024, Math.floor(LUA_READS_PER_CALL / used));
  const wsumSlice = script(redis, 'spirtWsumSlice');
  const tmpKey = await preparePartial(redis, destKey, bytes);
  for (let offset = 0; offset < length; offset += slice) {
    const count = Math.min(slice, length - offset);
    await luaCall('wsum', () =>
      wsumSlice(1 + srcKeys.length, tmpKey, ...srcKeys, offset, count, bytes, ...weights.map((w) => w.toPrecision(17))),
    );
  }
  await publishPartial(redis, tmpKey, destKey, opts.ttlSeconds);
  return length;
}
