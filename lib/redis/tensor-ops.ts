import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Redis from 'ioredis';
import { TensorError } from '../errors/tensor-error';
import { bufferToFloat32, float32ToBuffer } from '../tensor/float32';
import { packageRoot } from '../stack/paths';

export interface AverageOptions {
  /** Floats per Lua call; bounds how long one call blocks the server. @default 65536 */
  sliceFloats?: number;
  /** TTL in seconds for the destination (none when absent). */
  ttlSeconds?: number;
}

type AverageSliceCommand = (numKeys: number, ...args: (string | number)[]) => Promise<number>;

function averageSliceCommand(redis: Redis): AverageSliceCommand {
  const named = redis as unknown as { spirtAverageSlice?: AverageSliceCommand };
  if (!named.spirtAverageSlice) {
    // Loaded once per connection and then called by SHA (ioredis defineCommand).
    redis.defineCommand('spirtAverageSlice', {
      lua: readFileSync(join(packageRoot(), 'lua', 'average-slice.lua'), 'utf8'),
    });
  }
  return (named.spirtAverageSlice as AverageSliceCommand).bind(redis);
}

/**
 * Averages raw float32 tensors stored at `srcKeys` into `destKey`, inside Redis.
 * Works in slices into a temporary key and renames it at the end, so readers never see a
 * partial average and no single script call blocks the server for long.
 * @throws TensorError when a source is missing or the sources differ in length.
 */
export async function averageTensors(
  redis: Redis,
  destKey: string,
  srcKeys: string[],
  opts: AverageOptions = {},
): Promise<{ length: number }> {
  if (srcKeys.length === 0) throw new TensorError('average: no source tensors');
  const lengths = await Promise.all(srcKeys.map((key) => redis.strlen(key)));
  const bytes = lengths[0];
  lengths.forEach((len, i) => {
    if (len === 0) throw new TensorError(`average: source ${srcKeys[i]} is missing or empty`);
    if (len !== bytes) throw new TensorError(`average: source ${srcKeys[i]} has ${len} bytes, expected ${bytes}`);
  });
  if (bytes % 4 !== 0) throw new TensorError(`average: ${bytes} bytes is not a whole number of float32 values`);
  const length = bytes / 4;
  const slice = opts.sliceFloats ?? 65536;
  const tmpKey = `${destKey}:partial`;
  const averageSlice = averageSliceCommand(redis);
  await redis.del(tmpKey);
  for (let offset = 0; offset < length; offset += slice) {
    const count = Math.min(slice, length - offset);
    await averageSlice(1 + srcKeys.length, tmpKey, ...srcKeys, offset, count, bytes);
  }
  const tx = redis.multi().rename(tmpKey, destKey);
  if (opts.ttlSeconds) tx.expire(destKey, opts.ttlSeconds);
  await tx.exec();
  return { length };
}

export interface SgdOptions {
  lr: number;
  momentum?: number;
  momentumKey?: string;
  weightDecay?: number;
}

/**
 * In-place SGD with optional momentum and weight decay:
 * `v = m*v + (g + wd*w); w = w - lr*v`.
 * Fetch-process-store fallback (the in-database path replaces it); parameters and momentum are written in one MULTI.
 * @throws TensorError on length mismatch or non-finite gradient.
 */
export async function sgdUpdate(redis: Redis, paramsKey: string, gradKey: string, opts: SgdOptions): Promise<void> {
  const [paramsBuf, gradBuf] = await Promise.all([redis.getBuffer(paramsKey), redis.getBuffer(gradKey)]);
  if (!paramsBuf) throw new TensorError(`sgd: parameters ${paramsKey} are missing`);
  if (!gradBuf) throw new TensorError(`sgd: gradient ${gradKey} is missing`);
  const params = bufferToFloat32(paramsBuf, undefined, 'sgd parameters');
  const grad = bufferToFloat32(gradBuf, params.length, 'sgd gradient');
  const momentum = opts.momentum ?? 0;
  const wd = opts.weightDecay ?? 0;
  let velocity: Float32Array | null = null;
  if (momentum > 0) {
    if (!opts.momentumKey) throw new TensorError('sgd: momentum needs a momentum buffer key');
    const vBuf = await redis.getBuffer(opts.momentumKey);
    velocity = vBuf ? bufferToFloat32(vBuf, params.length, 'sgd momentum') : new Float32Array(params.length);
  }
  for (let i = 0; i < params.length; i++) {
    const g = grad[i] + wd * params[i];
    if (!Number.isFinite(g)) throw new TensorError(`sgd: non-finite gradient at index ${i}`);
    if (velocity) {
      velocity[i] = momentum * velocity[i] + g;
      params[i] -= opts.lr * velocity[i];
    } else {
      params[i] -= opts.lr * g;
    }
  }
  const tx = redis.multi().set(paramsKey, float32ToBuffer(params));
  if (velocity && opts.momentumKey) tx.set(opts.momentumKey, float32ToBuffer(velocity));
  await tx.exec();
}
