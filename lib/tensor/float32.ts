import { TensorError } from '../errors/tensor-error';

/** Raw little-endian float32 bytes of a vector, without copying. */
export function float32ToBuffer(values: Float32Array): Buffer {
  return Buffer.from(values.buffer, values.byteOffset, values.byteLength);
}

/** A Redis string of raw float32 back into a vector (copied so it is 4-byte aligned). */
export function bufferToFloat32(buffer: Buffer, expectedLength?: number, what = 'tensor'): Float32Array {
  if (buffer.byteLength % 4 !== 0) {
    throw new TensorError(`${what}: ${buffer.byteLength} bytes is not a whole number of float32 values`);
  }
  const length = buffer.byteLength / 4;
  if (expectedLength !== undefined && length !== expectedLength) {
    throw new TensorError(`${what}: expected ${expectedLength} float32 values, got ${length}`);
  }
  const out = new Float32Array(length);
  new Uint8Array(out.buffer).set(buffer);
  return out;
}

/** Index of the first NaN/Inf, or -1. */
export function firstNonFinite(values: Float32Array): number {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) return i;
  }
  return -1;
}
