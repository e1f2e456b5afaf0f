import { readFileSync } from 'node:fs';
import { DataError } from '../errors/data-error';

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

const UBYTE = 0x08;
const TYPE_NAMES: Record<number, string> = {
  0x08: 'ubyte',
  0x09: 'byte',
  0x0b: 'short',
  0x0c: 'int',
  0x0d: 'float',
  0x0e: 'double',
};

/**
 * Parses an IDX file (the MNIST format): magic `00 00 <type> <ndims>`, big-endian u32 dims, data.
 * Only unsigned bytes are supported (what image/label datasets use).
 * @throws DataError on a wrong magic number, unsupported type, bad dimensions or a length that does not match.
 */
export function parseIdx(bytes: Uint8Array, what = 'IDX data'): IdxArray {
  if (bytes.length < 4) throw new DataError(`${what}: ${bytes.length} bytes is too short for an IDX header`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new DataError(`${what}: bad magic number (first two bytes must be 0; is this an IDX file? gzip-compressed?)`);
  }
  const type = bytes[2];
  const ndims = bytes[3];
  if (!(type in TYPE_NAMES)) throw new DataError(`${what}: unknown IDX element type 0x${type.toString(16)}`);
  if (type !== UBYTE)
    throw new DataError(`${what}: IDX element type ${TYPE_NAMES[type]} is not supported (ubyte only)`);
  if (ndims < 1 || ndims > 4) throw new DataError(`${what}: ${ndims} dimensions; expected 1 to 4`);
  const headerBytes = 4 + 4 * ndims;
  if (bytes.length < headerBytes) throw new DataError(`${what}: truncated header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) {
    const dim = view.getUint32(4 + 4 * i, false);
    if (dim === 0) throw new DataError(`${what}: dimension ${i} is 0`);
    dims.push(dim);
  }
  const expected = dims.reduce((a, b) => a * b, 1);
  const actual = bytes.length - headerBytes;
  if (actual !== expected) {
    throw new DataError(
      `${what}: header says ${dims.join('x')} = ${expected} bytes of data, file has ${actual}` +
        (actual < expected ? ' (truncated)' : ' (trailing bytes)'),
    );
  }
  return { dims, data: bytes.subarray(headerBytes) };
}

export function readIdxFile(path: string): IdxArray {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new DataError(`cannot read IDX file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  return parseIdx(bytes, path);
}
