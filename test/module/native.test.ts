// The C side under sanitizers: unit tests of the pure core (plain and ASan/UBSan builds), a
// redis-server running the ASan/UBSan build of the module through every command family, and a
// bounded fuzz run over the argument/blob parsers.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { averageImpl, sgdImpl } from '../../lib/aggregation/reference';
import {
  buildModule,
  firstBitDifference,
  getFloats,
  make,
  randomFloats,
  sanitizerEnv,
  startServer,
  tempDir,
  toBuffer,
} from './helpers';

test('C unit tests of the tensor core and parsers pass (plain -O3 build)', () => {
  expect(make('test')).toMatch(/test_core: \d+ checks, 0 failures/);
});

test('C unit tests pass under ASan + UBSan', () => {
  expect(make('asan')).toMatch(/test_core: \d+ checks, 0 failures/);
});

test('bounded fuzz run of the argument and blob parsers under ASan + UBSan', () => {
  expect(make('fuzz', { FUZZ_SECONDS: '8' })).toMatch(/fuzz_parse: \d+ inputs in 8 s, no crash/);
});

function sanitizerRuntime(name: string): string | null {
  try {
    const path = execFileSync('cc', [`-print-file-name=${name}`], { encoding: 'utf8' }).trim();
    return path.startsWith('/') && existsSync(path) ? path : null;
  } catch {
    return null;
  }
}

const asanLib = sanitizerRuntime('libasan.so');
const ubsanLib = sanitizerRuntime('libubsan.so');
const asanTest = asanLib && ubsanLib ? test : test.skip;

asanTest('redis-server with the ASan/UBSan module build runs every command family cleanly', async () => {
  const logDir = tempDir('spirt-asan-');
  const server = await startServer({
    modulePath: buildModule(true),
    extraConfig: ['aof-use-rdb-preamble no'],
    env: sanitizerEnv(logDir),
  });
  try {
    const r = server.redis;
    // Tensor type, including the AOF rewrite and RDB paths.
    await r.call('AI.TENSORSET', 't', 'FLOAT', '2', '3', 'VALUES', '1', '2', '3', '4', '5', '6');
    await r.call('AI.TENSORSET', 'tb', 'FLOAT', '7', 'BLOB', toBuffer(randomFloats(7, 1)));
    await expect(r.call('AI.TENSORSET', 'x', 'FLOAT', '2', 'BLOB', 'abc')).rejects.toThrow(/blob has 3 bytes/);
    expect(await r.call('AI.TENSORGET', 't', 'META', 'VALUES')).toHaveLength(6);
    expect(await r.call('DEBUG', 'RELOAD')).toBe('OK');
    await r.bgrewriteaof();
    await new Promise((res) => setTimeout(res, 300));
    expect(await r.call('DEBUG', 'LOADAOF')).toBe('OK');
    expect(await r.call('AI.TENSORGET', 't', 'VALUES')).toEqual(['1', '2', '3', '4', '5', '6']);
    // Ops: inline and sliced, strings (misaligned sds buffers) and tensors, error paths.
    for (const n of [1000, 300_001]) {
      const srcs = [1, 2, 3].map((s) => randomFloats(n, s));
      for (let j = 0; j < 3; j++) await r.set(`g${j}`, toBuffer(srcs[j]));
      expect(await r.call('SPIRT.AVERAGE', 'avg', 'g0', 'g1', 'g2', 'CHECKFINITE')).toBe(n);
      const avg = averageImpl(srcs, 'f32');
      expect(firstBitDifference(await getFloats(r, 'avg'), avg)).toBe(-1);
      const p = randomFloats(n, 9);
      await r.set('p', toBuffer(p));
      await r.del('m');
      expect(await r.call('SPIRT.SGD', 'p', 'avg', 'LR', '0.1', 'MOMENTUM', '0.9', 'm', 'WEIGHTDECAY', '0.01')).toBe(n);
      sgdImpl(p, avg, new Float32Array(n), { lr: 0.1, momentum: 0.9, weightDecay: 0.01 }, true, 'f32');
      expect(firstBitDifference(await getFloats(r, 'p'), p)).toBe(-1);
      expect(await r.call('SPIRT.AGGREGATE', 'agg', 'MEAMED', '1', 'g0', 'g1', 'g2')).toBe(n);
      await expect(r.call('SPIRT.AVERAGE', 'avg', 'g0', 't')).rejects.toThrow(/shape mismatch/);
    }
    expect(await r.ping()).toBe('PONG');
  } finally {
    await server.stop();
  }
  const reports = readdirSync(logDir).map((f) => readFileSync(join(logDir, f), 'utf8'));
  expect(reports).toEqual([]);
});
