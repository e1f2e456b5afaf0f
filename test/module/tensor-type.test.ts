// AI.TENSORSET / AI.TENSORGET against a real redis-server with the module loaded: reply shapes,
// invalid arguments, and RDB / AOF round trips that must keep tensors bit-exact.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tensorGet, tensorSet } from '../../lib/redis/module-commands';
import { buildModule, firstBitDifference, randomFloats, startServer, toBuffer, type TestServer } from './helpers';

let server: TestServer;

beforeAll(async () => {
  const modulePath = buildModule();
  server = await startServer({ modulePath, extraConfig: ['aof-use-rdb-preamble no'] });
});

afterAll(async () => {
  await server?.stop();
});

beforeEach(async () => {
  await server.redis.flushall();
});

describe('AI.TENSORSET / AI.TENSORGET happy paths', () => {
  test('VALUES, then every reply shape of TENSORGET (RedisAI layout)', async () => {
    const r = server.redis;
    expect(await r.call('AI.TENSORSET', 't', 'FLOAT', '2', '3', 'VALUES', '1', '2', '3', '4', '5', '-6.5')).toBe('OK');
    expect(await r.call('AI.TENSORGET', 't', 'META')).toEqual(['dtype', 'FLOAT', 'shape', [2, 3]]);
    expect(await r.call('AI.TENSORGET', 't', 'VALUES')).toEqual(['1', '2', '3', '4', '5', '-6.5']);
    expect(await r.call('AI.TENSORGET', 't')).toEqual([
      'dtype',
      'FLOAT',
      'shape',
      [2, 3],
      'values',
      ['1', '2', '3', '4', '5', '-6.5'],
    ]);
    const blob = (await r.callBuffer('AI.TENSORGET', 't', 'BLOB')) as Buffer;
    expect(blob.byteLength).toBe(24);
    expect(blob.readFloatLE(20)).toBe(-6.5);
    const metaBlob = (await r.callBuffer('AI.TENSORGET', 't', 'meta', 'blob')) as unknown[];
    expect(metaBlob.map((x, i) => (i === 5 ? (x as Buffer).byteLength : String(x)))).toEqual([
      'dtype',
      'FLOAT',
      'shape',
      '2,3',
      'blob',
      24,
    ]);
    expect(await r.type('t')).toBe('spirt_f32');
  });

  test('BLOB through the typed wrappers keeps every bit (NaN payloads, -0, subnormals)', async () => {
    const data = randomFloats(1000, 7, 1e3);
    const bits = new Uint32Array(data.buffer);
    bits[0] = 0x7fc12345; // NaN with a payload
    bits[1] = 0x80000000; // -0
    bits[2] = 0x00000001; // smallest subnormal
    bits[3] = 0xff800000; // -Inf
    await tensorSet(server.redis, 'b', [10, 100], data);
    const got = await tensorGet(server.redis, 'b');
    expect(got.shape).toEqual([10, 100]);
    expect(firstBitDifference(got.data, data)).toBe(-1);
  });

  test('no BLOB/VALUES gives a zero tensor; TENSORSET replaces a string but not a list', async () => {
    const r = server.redis;
    await r.set('s', 'hello');
    expect(await r.call('AI.TENSORSET', 's', 'FLOAT', '3')).toBe('OK');
    expect(await r.call('AI.TENSORGET', 's', 'VALUES')).toEqual(['0', '0', '0']);
    await r.rpush('l', 'x');
    await expect(r.call('AI.TENSORSET', 'l', 'FLOAT', '1')).rejects.toThrow(/WRONGTYPE/);
    await expect(r.call('AI.TENSORGET', 'l')).rejects.toThrow(/WRONGTYPE/);
  });
});

describe('invalid arguments are rejected and change nothing', () => {
  const blob3 = toBuffer(new Float32Array([1, 2, 3]));
  const cases: [string, (string | Buffer)[], RegExp][] = [
    ['wrong arity (set)', ['AI.TENSORSET', 'k', 'FLOAT'], /wrong number of arguments/i],
    ['wrong arity (get)', ['AI.TENSORGET'], /wrong number of arguments/i],
    ['unknown type', ['AI.TENSORSET', 'k', 'QUATERNION', '2'], /unknown data type/],
    ['unsupported type', ['AI.TENSORSET', 'k', 'DOUBLE', '2'], /unsupported data type DOUBLE/],
    ['empty tensor (dim 0)', ['AI.TENSORSET', 'k', 'FLOAT', '0'], /empty tensors are rejected/],
    ['negative dim', ['AI.TENSORSET', 'k', 'FLOAT', '-2', 'VALUES', '1', '2'], /dimension/],
    ['non-integer dim', ['AI.TENSORSET', 'k', 'FLOAT', '2.5'], /not an integer/],
    ['missing shape', ['AI.TENSORSET', 'k', 'FLOAT', 'BLOB', blob3], /missing shape/],
    [
      'dims do not match the blob',
      ['AI.TENSORSET', 'k', 'FLOAT', '2', '2', 'BLOB', blob3],
      /blob has 12 bytes but shape needs 16/,
    ],
    ['blob not a whole float', ['AI.TENSORSET', 'k', 'FLOAT', '1', 'BLOB', 'abc'], /blob has 3 bytes/],
    ['too few values', ['AI.TENSORSET', 'k', 'FLOAT', '3', 'VALUES', '1', '2'], /got 2 values but shape needs 3/],
    ['value not a number', ['AI.TENSORSET', 'k', 'FLOAT', '2', 'VALUES', '1', 'x'], /not a number/],
    ['value overflows float', ['AI.TENSORSET', 'k', 'FLOAT', '1', 'VALUES', '1e39'], /overflows FLOAT/],
    ['too many dims', ['AI.TENSORSET', 'k', 'FLOAT', ...Array(9).fill('1')], /too many dimensions/],
    ['too large', ['AI.TENSORSET', 'k', 'FLOAT', '65536', '65536'], /too large/],
    ['extra args after BLOB', ['AI.TENSORSET', 'k', 'FLOAT', '3', 'BLOB', blob3, 'x'], /BLOB takes exactly one/],
    ['bad TENSORGET option', ['AI.TENSORGET', 'k', 'JSON'], /invalid or repeated option/],
    ['TENSORGET BLOB and VALUES', ['AI.TENSORGET', 'k', 'BLOB', 'VALUES'], /invalid or repeated option/],
    ['TENSORGET of a missing key', ['AI.TENSORGET', 'nope'], /tensor key is empty/],
  ];
  test.each(cases)('%s', async (_name, args, error) => {
    const r = server.redis;
    await r.call('AI.TENSORSET', 'k', 'FLOAT', '1', 'VALUES', '42');
    await expect(r.call(String(args[0]), ...args.slice(1))).rejects.toThrow(error);
    // The existing tensor is untouched.
    expect(await r.call('AI.TENSORGET', 'k', 'VALUES')).toEqual(['42']);
  });
});

describe('persistence is bit-exact', () => {
  async function fill(): Promise<Map<string, Float32Array>> {
    const tensors = new Map<string, Float32Array>();
    for (const [key, n, seed] of [
      ['p:a', 1, 1],
      ['p:b', 3000, 2],
      ['p:c', 70001, 3],
    ] as const) {
      const data = randomFloats(n, seed, 100);
      if (key === 'p:b') new Uint32Array(data.buffer)[5] = 0x7fa00001; // NaN payload survives
      await tensorSet(server.redis, key, n === 3000 ? [3, 10, 100] : [n], data);
      tensors.set(key, data);
    }
    await server.redis.set('p:plain', toBuffer(randomFloats(10, 9)));
    return tensors;
  }

  async function expectSame(tensors: Map<string, Float32Array>): Promise<void> {
    for (const [key, data] of tensors) {
      const got = await tensorGet(server.redis, key);
      expect(got.shape.reduce((a, b) => a * b, 1)).toBe(data.length);
      expect(firstBitDifference(got.data, data)).toBe(-1);
    }
    expect(await server.redis.type('p:plain')).toBe('string');
  }

  test('DEBUG RELOAD (RDB save + load)', async () => {
    const tensors = await fill();
    expect(await server.redis.call('DEBUG', 'RELOAD')).toBe('OK');
    await expectSame(tensors);
    expect(await server.redis.call('AI.TENSORGET', 'p:b', 'META')).toEqual(['dtype', 'FLOAT', 'shape', [3, 10, 100]]);
  });

  test('BGREWRITEAOF (AI.TENSORSET ... BLOB records) then DEBUG LOADAOF', async () => {
    const tensors = await fill();
    await server.redis.bgrewriteaof();
    for (let i = 0; i < 200; i++) {
      const info = await server.redis.info('persistence');
      if (/aof_rewrite_in_progress:0/.test(info) && /aof_rewrite_scheduled:0/.test(info) && i > 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const aofDir = join(server.dir, 'appendonlydir');
    const base = readdirSync(aofDir).find((f) => f.endsWith('.base.aof'));
    expect(base).toBeDefined();
    const text = readFileSync(join(aofDir, base as string)).toString('latin1');
    expect(text.match(/AI\.TENSORSET/g)?.length).toBe(3);
    expect(text).toContain('BLOB');
    expect(await server.redis.call('DEBUG', 'LOADAOF')).toBe('OK');
    await expectSame(tensors);
    expect(await server.redis.call('AI.TENSORGET', 'p:b', 'META')).toEqual(['dtype', 'FLOAT', 'shape', [3, 10, 100]]);
  });
});

describe('the RDB loader rejects corrupted tensors (RESTORE of crafted DUMP payloads)', () => {
  // Redis CRC-64 (Jones polynomial, reflected), as appended to DUMP payloads.
  const POLY = 0x95ac9329ac4bc9b5n;
  function crc64(data: Buffer): bigint {
    let crc = 0n;
    for (const byte of data) {
      crc ^= BigInt(byte);
      for (let i = 0; i < 8; i++) crc = crc & 1n ? (crc >> 1n) ^ POLY : crc >> 1n;
    }
    return crc;
  }
  /** RDB length encoding (6-bit, 14-bit, 32-bit forms). */
  function len(n: number): Buffer {
    if (n < 64) return Buffer.from([n]);
    if (n < 16384) return Buffer.from([0x40 | (n >> 8), n & 0xff]);
    const b = Buffer.alloc(5);
    b[0] = 0x80;
    b.writeUInt32BE(n, 1);
    return b;
  }
  const uint = (v: number) => Buffer.concat([len(2), len(v)]); // RDB_MODULE_OPCODE_UINT
  const str = (b: Buffer) => Buffer.concat([len(5), len(b.length), b]); // RDB_MODULE_OPCODE_STRING
  const EOF = len(0);

  let header: Buffer; // type byte + 64-bit module id (name + encoding version)
  let trailerVersion: Buffer;

  function payload(moduleId: Buffer, body: Buffer[]): Buffer {
    const content = Buffer.concat([header.subarray(0, 2), moduleId, ...body, trailerVersion]);
    const crc = Buffer.alloc(8);
    crc.writeBigUInt64LE(crc64(content));
    return Buffer.concat([content, crc]);
  }

  beforeAll(async () => {
    await server.redis.call('AI.TENSORSET', 'model', 'FLOAT', '3', 'VALUES', '1', '2', '3');
    const dump = (await server.redis.dumpBuffer('model')) as Buffer;
    // Our CRC matches Redis's on a real dump, so the crafted payloads below pass its checksum.
    expect(crc64(dump.subarray(0, dump.length - 8))).toBe(dump.readBigUInt64LE(dump.length - 8));
    expect(dump[0]).toBe(7); // RDB_TYPE_MODULE_2
    expect(dump[1]).toBe(0x81); // 64-bit length: the module id follows
    header = dump.subarray(0, 10);
    trailerVersion = dump.subarray(dump.length - 10, dump.length - 8);
  });

  const blob12 = toBuffer(new Float32Array([1, 2, 3]));
  const idWithVersion = (v: number) => {
    const id = Buffer.from(header.subarray(2, 10));
    id.writeUInt16BE((id.readUInt16BE(6) & ~0x3ff) | v, 6);
    return id;
  };

  test('a well-formed crafted payload loads (the crafting is right)', async () => {
    const p = payload(idWithVersion(1), [uint(1), uint(3), str(blob12), EOF]);
    expect(await server.redis.restore('ok', 0, p)).toBe('OK');
    expect(await server.redis.call('AI.TENSORGET', 'ok', 'VALUES')).toEqual(['1', '2', '3']);
  });

  test.each<[string, () => Buffer]>([
    ['unknown encoding version 2', () => payload(idWithVersion(2), [uint(1), uint(3), str(blob12), EOF])],
    ['zero dims', () => payload(idWithVersion(1), [uint(0), str(blob12), EOF])],
    ['nine dims', () => payload(idWithVersion(1), [uint(9), ...Array(9).fill(uint(1)), str(blob12), EOF])],
    ['a zero dimension', () => payload(idWithVersion(1), [uint(2), uint(3), uint(0), str(blob12), EOF])],
    ['payload shorter than the shape', () => payload(idWithVersion(1), [uint(1), uint(4), str(blob12), EOF])],
    ['payload longer than the shape', () => payload(idWithVersion(1), [uint(1), uint(2), str(blob12), EOF])],
    ['truncated (no payload)', () => payload(idWithVersion(1), [uint(1), uint(3)])],
  ])('%s: RESTORE fails, nothing is created, the server keeps running', async (_name, make) => {
    await expect(server.redis.restore('bad', 0, make())).rejects.toThrow(/Bad data format|module/i);
    expect(await server.redis.exists('bad')).toBe(0);
    expect(await server.redis.ping()).toBe('PONG');
  });
});
