// SPIRT.AVERAGE / SPIRT.SGD / SPIRT.AGGREGATE against a real redis-server with the module loaded:
// results equal to the TypeScript reference bit for bit, invalid arguments, the sliced (blocking)
// path, concurrent modification, MULTI / Lua / AOF replay, and PING latency during a large op.
import { createHash } from 'node:crypto';
import type Redis from 'ioredis';
import { tensorGet, tensorSet } from '../../lib/redis/module-commands';
import { aggregateImpl, averageImpl, sgdImpl, type AggregateRule } from '../../lib/aggregation/reference';
import {
  buildModule,
  firstBitDifference,
  getFloats,
  randomFloats,
  startServer,
  toBuffer,
  withPingMonitor,
  type TestServer,
} from './helpers';

let server: TestServer;
let r: Redis;

beforeAll(async () => {
  server = await startServer({ modulePath: buildModule() });
  r = server.redis;
});

afterAll(async () => {
  await server?.stop();
});

beforeEach(async () => {
  await r.flushall();
});

async function putAll(
  prefix: string,
  k: number,
  n: number,
  seed: number,
  scale = 1,
): Promise<{ keys: string[]; values: Float32Array[] }> {
  const keys: string[] = [];
  const values: Float32Array[] = [];
  for (let j = 0; j < k; j++) {
    const v = randomFloats(n, seed + j, scale);
    keys.push(`${prefix}${j}`);
    values.push(v);
    await r.set(`${prefix}${j}`, toBuffer(v));
  }
  return { keys, values };
}

/** Resolves once some client is blocked in a module op (so the next command lands mid-op). */
async function waitUntilBlocked(conn: Redis, finished: () => boolean = () => false): Promise<void> {
  const seen: string[] = [];
  for (let i = 0; i < 2000 && !finished(); i++) {
    const info = await conn.info('clients');
    if (/blocked_clients:[1-9]/.test(info)) return;
    if (i < 5) seen.push(info.replace(/\r?\n/g, ' '));
  }
  if (!finished()) throw new Error(`no client got blocked: ${seen.join(' | ')}`);
}

/**
 * Starts `op` and, once its client is blocked, runs `interfere` from another connection. The two
 * race (a loaded machine can finish the op first), so retry a few times until the interference
 * lands mid-op. Resolves to the op's error message.
 */
async function interfereMidOp(
  other: Redis,
  setup: () => Promise<void>,
  op: () => Promise<unknown>,
  interfere: () => Promise<unknown>,
): Promise<string> {
  for (let attempt = 0; attempt < 6; attempt++) {
    await setup();
    let done = false;
    const running = op().then(
      () => null,
      (err: Error) => err.message,
    );
    void running.finally(() => (done = true));
    // An op that finishes before any client is seen blocked is a lost race: try again.
    await waitUntilBlocked(other, () => done);
    if (done && (await running) === null) continue;
    await interfere();
    const message = await running;
    if (message !== null) return message;
  }
  throw new Error('the interfering command never landed while the op was running');
}

function expectBits(got: Float32Array, want: Float32Array): void {
  expect(got.length).toBe(want.length);
  const at = firstBitDifference(got, want);
  if (at >= 0) throw new Error(`first difference at ${at}: got ${got[at]}, want ${want[at]}`);
}

describe('SPIRT.AVERAGE', () => {
  test.each([
    ['inline (small)', 1, 1000],
    ['k=3, odd length', 3, 4099],
    ['k=4, 300k floats (inline or sliced by size estimate)', 4, 300_000],
    ['k=15, 70k floats', 15, 70_001],
  ])('%s equals the float32 reference bit for bit', async (_name, k, n) => {
    const { keys, values } = await putAll('g:', k, n, 11, 10);
    expect(await r.call('SPIRT.AVERAGE', 'avg', ...keys)).toBe(n);
    expectBits(await getFloats(r, 'avg'), averageImpl(values, 'f32'));
    expect(await r.type('avg')).toBe('string');
  });

  test('in place (dest is a source), 3 x 400k floats', async () => {
    const { keys, values } = await putAll('g:', 3, 400_000, 5);
    expect(await r.call('SPIRT.AVERAGE', keys[1], ...keys)).toBe(400_000);
    expectBits(await getFloats(r, keys[1]), averageImpl(values, 'f32'));
  });

  test('tensor sources give a tensor with the first source shape; an existing dest is replaced', async () => {
    const a = randomFloats(12, 1);
    const b = randomFloats(12, 2);
    await tensorSet(r, 'ta', [3, 4], a);
    await r.set('sb', toBuffer(b));
    await r.set('dest', 'old value that is longer than the result ...........................');
    expect(await r.call('SPIRT.AVERAGE', 'td', 'ta', 'sb')).toBe(12);
    const td = await tensorGet(r, 'td');
    expect(td.shape).toEqual([3, 4]);
    expectBits(td.data, averageImpl([a, b], 'f32'));
    expect(await r.call('SPIRT.AVERAGE', 'dest', 'sb', 'ta')).toBe(12);
    expectBits(await getFloats(r, 'dest'), averageImpl([b, a], 'f32'));
  });

  test('CHECKFINITE rejects NaN/Inf and leaves the destination untouched (inline and sliced)', async () => {
    for (const n of [100, 500_000]) {
      const { keys } = await putAll('g:', 3, n, 3);
      await r.set('avg', 'previous');
      await r.setrange(keys[2], (n - 1) * 4, toBuffer(new Float32Array([Infinity])));
      await expect(r.call('SPIRT.AVERAGE', 'avg', ...keys, 'CHECKFINITE')).rejects.toThrow(
        new RegExp(`key 'g:2' has a non-finite value \\(NaN or Inf\\) at index ${n - 1}`),
      );
      expect(await r.get('avg')).toBe('previous');
      // Without the flag the Inf propagates.
      await r.call('SPIRT.AVERAGE', 'avg', ...keys);
      expect((await getFloats(r, 'avg'))[n - 1]).toBe(Infinity);
    }
  });
});

describe('SPIRT.SGD', () => {
  const variants: [string, { lr: number; momentum?: number; weightDecay?: number; nesterov?: boolean }][] = [
    ['plain', { lr: 0.1 }],
    ['weight decay', { lr: 0.05, weightDecay: 1e-3 }],
    ['momentum', { lr: 0.01, momentum: 0.9 }],
    ['momentum + nesterov + weight decay', { lr: 0.01, momentum: 0.9, weightDecay: 5e-4, nesterov: true }],
  ];
  test.each(variants)('%s: two steps equal the float32 reference (inline and sliced)', async (_name, hp) => {
    for (const n of [1001, 250_000]) {
      await r.flushall();
      const p = randomFloats(n, 21);
      await r.set('p', toBuffer(p));
      const buf = hp.momentum ? new Float32Array(n) : null;
      for (let step = 0; step < 2; step++) {
        const g = randomFloats(n, 30 + step);
        await r.set('g', toBuffer(g));
        const args = ['p', 'g', 'LR', String(hp.lr)];
        if (hp.momentum) args.push('MOMENTUM', String(hp.momentum), 'mom');
        if (hp.nesterov) args.push('NESTEROV');
        if (hp.weightDecay) args.push('WEIGHTDECAY', String(hp.weightDecay));
        expect(await r.call('SPIRT.SGD', ...args)).toBe(n);
        sgdImpl(p, g, buf, hp, step === 0, 'f32');
        expectBits(await getFloats(r, 'p'), p);
        if (buf) expectBits(await getFloats(r, 'mom'), buf);
      }
    }
  });

  test('works on module tensors and leaves everything untouched when CHECKFINITE fails', async () => {
    const p = randomFloats(64, 1);
    const g = randomFloats(64, 2);
    await tensorSet(r, 'tp', [8, 8], p);
    await tensorSet(r, 'tg', [64], g);
    expect(await r.call('SPIRT.SGD', 'tp', 'tg', 'LR', '0.5')).toBe(64);
    sgdImpl(p, g, null, { lr: 0.5 }, false, 'f32');
    const got = await tensorGet(r, 'tp');
    expect(got.shape).toEqual([8, 8]);
    expectBits(got.data, p);
    const bad = randomFloats(300_000, 3);
    bad[123_456] = NaN;
    await r.set('bp', toBuffer(randomFloats(300_000, 4)));
    await r.set('bg', toBuffer(bad));
    const before = await r.getBuffer('bp');
    await expect(r.call('SPIRT.SGD', 'bp', 'bg', 'LR', '1', 'MOMENTUM', '0.9', 'bm', 'CHECKFINITE')).rejects.toThrow(
      /key 'bg' has a non-finite value \(NaN or Inf\) at index 123456/,
    );
    expect((await r.getBuffer('bp'))?.equals(before as Buffer)).toBe(true);
    expect(await r.exists('bm')).toBe(0);
  });
});

describe('SPIRT.AGGREGATE', () => {
  const rules: [string, string[], AggregateRule][] = [
    ['MEAN', ['MEAN'], { kind: 'mean' }],
    ['MEDIAN', ['MEDIAN'], { kind: 'median' }],
    ['TRIMMEDMEAN 1', ['TRIMMEDMEAN', '1'], { kind: 'trimmedMean', f: 1 }],
    ['MEAMED 2', ['MEAMED', '2'], { kind: 'meamed', f: 2 }],
  ];
  test.each(rules)(
    '%s with a Byzantine source equals the reference (k=5 and k=4, inline and sliced)',
    async (_n, args, rule) => {
      for (const [k, n] of [
        [5, 2000],
        [4, 120_000],
      ]) {
        await r.flushall();
        const { keys, values } = await putAll('peer:', k, n, 50, 1);
        // Peer 0 is Byzantine: sign-flipped and scaled.
        values[0] = values[0].map((x) => -100 * x);
        await r.set(keys[0], toBuffer(values[0]));
        if (rule.kind === 'meamed' && k === 4) continue; // 2f < n fails; covered in the error table
        expect(await r.call('SPIRT.AGGREGATE', 'agg', ...args, ...keys)).toBe(n);
        expectBits(await getFloats(r, 'agg'), aggregateImpl(values, rule, 'f32'));
      }
    },
  );
});

describe('SPIRT.SHA256', () => {
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

  test('equals the SHA-256 of the bytes GET returns, for tensors of every size (inline and sliced)', async () => {
    for (const n of [1, 15, 16, 17, 1000, 262_145, 1_500_000]) {
      const bytes = toBuffer(randomFloats(n, n));
      await r.set('t', bytes);
      expect(await r.call('SPIRT.SHA256', 't')).toBe(sha(bytes));
    }
    // A module tensor hashes its raw float bytes, as a string does.
    const v = randomFloats(300, 5);
    await tensorSet(r, 'mt', [3, 100], v);
    expect(await r.call('SPIRT.SHA256', 'mt')).toBe(sha(toBuffer(v)));
  });

  test('is read-only: nothing is written, notified or appended to the AOF, in MULTI and Lua as well', async () => {
    const bytes = toBuffer(randomFloats(600_000, 3));
    await r.set('t', bytes);
    const aofBefore = Number(/aof_current_size:(\d+)/.exec(await r.info('persistence'))?.[1] ?? -1);
    const tx = await r.multi().call('SPIRT.SHA256', 't').exec();
    expect(tx?.[0]).toEqual([null, sha(bytes)]);
    expect(await r.eval("return redis.call('SPIRT.SHA256', KEYS[1])", 1, 't')).toBe(sha(bytes));
    expect(await r.call('SPIRT.SHA256', 't')).toBe(sha(bytes));
    const aofAfter = Number(/aof_current_size:(\d+)/.exec(await r.info('persistence'))?.[1] ?? -1);
    // MULTI/EXEC of read-only commands propagates nothing either.
    expect(aofAfter).toBe(aofBefore);
    expect(await r.dbsize()).toBe(1);
  });

  test('refuses a missing key, a non-tensor string, another type and a wrong arity', async () => {
    await expect(r.call('SPIRT.SHA256', 'nope')).rejects.toThrow(/key 'nope' does not exist/);
    await r.set('odd', 'abc');
    await expect(r.call('SPIRT.SHA256', 'odd')).rejects.toThrow(/3 bytes, not a whole number of float32 values/);
    await r.set('empty', '');
    await expect(r.call('SPIRT.SHA256', 'empty')).rejects.toThrow(/empty string/);
    await r.lpush('list', 'x');
    await expect(r.call('SPIRT.SHA256', 'list')).rejects.toThrow(/WRONGTYPE/);
    await expect(r.call('SPIRT.SHA256')).rejects.toThrow(/wrong number of arguments/);
    await expect(r.call('SPIRT.SHA256', 'a', 'b')).rejects.toThrow(/wrong number of arguments/);
  });
});

describe('invalid arguments are rejected before anything changes', () => {
  const cases: [string, string[], RegExp][] = [
    ['AVERAGE wrong arity', ['SPIRT.AVERAGE', 'dest'], /wrong number of arguments/i],
    ['AVERAGE missing source', ['SPIRT.AVERAGE', 'dest', 'a', 'nope'], /key 'nope' does not exist/],
    [
      'AVERAGE empty string source',
      ['SPIRT.AVERAGE', 'dest', 'a', 'empty'],
      /empty string \(empty tensors are rejected\)/,
    ],
    ['AVERAGE length not whole floats', ['SPIRT.AVERAGE', 'dest', 'a', 'odd'], /holds 7 bytes, not a whole number/],
    [
      'AVERAGE mismatched shapes',
      ['SPIRT.AVERAGE', 'dest', 'a', 'short'],
      /shape mismatch: key 'short' has 3 floats, expected 4/,
    ],
    ['AVERAGE wrong type source', ['SPIRT.AVERAGE', 'dest', 'a', 'list'], /WRONGTYPE/],
    ['AVERAGE wrong type dest', ['SPIRT.AVERAGE', 'list', 'a', 'b'], /WRONGTYPE/],
    ['SGD wrong arity', ['SPIRT.SGD', 'a', 'b', 'LR'], /wrong number of arguments/i],
    ['SGD without LR', ['SPIRT.SGD', 'a', 'b', 'WEIGHTDECAY', '0.1'], /LR is required/],
    ['SGD negative LR', ['SPIRT.SGD', 'a', 'b', 'LR', '-1'], /LR must be >= 0/],
    ['SGD LR not a number', ['SPIRT.SGD', 'a', 'b', 'LR', 'fast'], /LR must be a finite number/],
    ['SGD unknown option', ['SPIRT.SGD', 'a', 'b', 'LR', '1', 'ADAM'], /unknown or repeated option/],
    ['SGD params == grad', ['SPIRT.SGD', 'a', 'a', 'LR', '1'], /must be different keys/],
    ['SGD mismatched grad', ['SPIRT.SGD', 'a', 'short', 'LR', '1'], /shape mismatch/],
    [
      'SGD momentum buffer mismatched',
      ['SPIRT.SGD', 'a', 'b', 'LR', '1', 'MOMENTUM', '0.9', 'short'],
      /shape mismatch: key 'short'/,
    ],
    ['SGD NESTEROV without momentum', ['SPIRT.SGD', 'a', 'b', 'LR', '1', 'NESTEROV'], /NESTEROV needs MOMENTUM/],
    ['AGGREGATE unknown rule', ['SPIRT.AGGREGATE', 'dest', 'KRUM', 'a', 'b'], /unknown rule/],
    ['AGGREGATE 2f >= n', ['SPIRT.AGGREGATE', 'dest', 'MEAMED', '1', 'a', 'b'], /2f < n/],
    ['AGGREGATE bad f', ['SPIRT.AGGREGATE', 'dest', 'TRIMMEDMEAN', '-1', 'a', 'b', 'c'], /f must be an integer/],
    ['AGGREGATE mismatched shapes', ['SPIRT.AGGREGATE', 'dest', 'MEDIAN', 'a', 'b', 'short'], /shape mismatch/],
  ];
  test.each(cases)('%s', async (_name, args, error) => {
    const a = new Float32Array([1, 2, 3, 4]);
    const b = new Float32Array([5, 6, 7, 8]);
    await r.set('a', toBuffer(a));
    await r.set('b', toBuffer(b));
    await r.set('c', toBuffer(b));
    await r.set('short', toBuffer(new Float32Array([1, 2, 3])));
    await r.set('odd', 'abcdefg');
    await r.set('empty', '');
    await r.set('dest', 'untouched');
    await r.rpush('list', 'x');
    await expect(r.call(args[0], ...args.slice(1))).rejects.toThrow(error);
    expect(await r.get('dest')).toBe('untouched');
    expectBits(await getFloats(r, 'a'), a);
    expect(await r.exists('short:partial', 'mom')).toBe(0);
  });

  test('COMMAND GETKEYS reports exactly the key arguments (ACL key patterns rely on it)', async () => {
    expect(await r.call('COMMAND', 'GETKEYS', 'SPIRT.AVERAGE', 'd', 'a', 'b', 'CHECKFINITE')).toEqual(['d', 'a', 'b']);
    expect(await r.call('COMMAND', 'GETKEYS', 'SPIRT.SGD', 'p', 'g', 'LR', '1', 'MOMENTUM', '0.9', 'm')).toEqual([
      'p',
      'g',
      'm',
    ]);
    expect(await r.call('COMMAND', 'GETKEYS', 'SPIRT.AGGREGATE', 'd', 'TRIMMEDMEAN', '1', 'a', 'b', 'c')).toEqual([
      'd',
      'a',
      'b',
      'c',
    ]);
  });
});

describe('sliced execution', () => {
  test('PING stays fast during a large average (k=8 x 4M floats + CHECKFINITE pass, default 5 ms slices)', async () => {
    const { keys, values } = await putAll('g:', 8, 4_000_000, 7);
    const pinger = server.connect();
    await pinger.ping();
    const { result, maxPingMs, pings } = await withPingMonitor(pinger, () =>
      r.call('SPIRT.AVERAGE', 'avg', ...keys, 'CHECKFINITE'),
    );
    expect(result).toBe(4_000_000);
    expect(pings).toBeGreaterThanOrEqual(2); // answered while the op ran (each waits for at most one slice)
    const info = await r.info('spirt');
    expect(Number(/spirt_ops_sliced:(\d+)/.exec(info)?.[1])).toBeGreaterThanOrEqual(1);
    expect(Number(/spirt_slices:(\d+)/.exec(info)?.[1])).toBeGreaterThanOrEqual(2);
    expect(info).toContain('spirt_running:0');
    expect(maxPingMs).toBeLessThan(100);
    expectBits(await getFloats(r, 'avg'), averageImpl(values, 'f32'));
  });
});

describe('sliced execution with 300 us slices (many slices, so commands land mid-op)', () => {
  let fine: TestServer;
  const main = { server: undefined as unknown as TestServer, r: undefined as unknown as Redis };
  beforeAll(async () => {
    fine = await startServer({ extraConfig: [`loadmodule ${buildModule()} SLICE_US 300`, 'loglevel verbose'] });
    main.server = server;
    main.r = r;
    server = fine;
    r = fine.redis;
  });
  afterAll(async () => {
    server = main.server;
    r = main.r;
    await fine?.stop();
  });
  beforeEach(async () => {
    await fine.redis.flushall();
  });

  test('a source changed mid-operation aborts it; a half-written destination is deleted', async () => {
    const other = server.connect();
    await other.ping();
    let keys: string[] = [];
    const message = await interfereMidOp(
      other,
      async () => {
        keys = (await putAll('g:', 8, 2_000_000, 9)).keys;
        await r.set('avg', 'old');
      },
      () => r.call('SPIRT.AVERAGE', 'avg', ...keys),
      () => other.setrange(keys[5], 100, 'xxxx'), // same length: only the keyspace notification can tell
    );
    expect(message).toMatch(/key 'g:5' was changed by another command \(setrange\) during the operation/);
    // Deleted if the op had started writing it, else untouched: never a half-written average.
    expect([null, 'old']).toContain(await r.get('avg'));
    // FLUSHALL also aborts cleanly.
    const flushed = await interfereMidOp(
      other,
      async () => {
        keys = (await putAll('h:', 8, 2_000_000, 9)).keys;
      },
      () => r.call('SPIRT.AVERAGE', 'avg2', ...keys),
      () => other.flushall(),
    );
    expect(flushed).toMatch(/flushed or swapped/);
    expect(await r.dbsize()).toBe(0);
  });

  test('queued ops run in arrival order; a client that disconnects still gets its op done', async () => {
    const n = 1_000_000;
    const { keys, values } = await putAll('g:', 4, n, 13);
    const p = randomFloats(n, 99);
    await r.set('p', toBuffer(p));
    const c1 = server.connect();
    const c2 = server.connect();
    await Promise.all([c1.ping(), c2.ping()]);
    let firstDone = false;
    const first = c1.call('SPIRT.AVERAGE', 'avg', ...keys).finally(() => (firstDone = true));
    await waitUntilBlocked(r, () => firstDone); // c1's op has arrived (and 'avg' may not exist yet)...
    const second = c2.call('SPIRT.SGD', 'p', 'avg', 'LR', '0.5'); // ...so this one is checked when it starts
    await Promise.all([first, second]);
    const avg = averageImpl(values, 'f32');
    expectBits(await getFloats(r, 'avg'), avg);
    sgdImpl(p, avg, null, { lr: 0.5 }, false, 'f32');
    expectBits(await getFloats(r, 'p'), p);
    // A long op whose client hangs up right after sending it: the op still runs to the end.
    const big = await putAll('big:', 8, 3_000_000, 31);
    const c3 = server.connect();
    await c3.ping();
    void c3.call('SPIRT.AVERAGE', 'gone', ...big.keys).catch(() => undefined);
    await new Promise((res) => setImmediate(res));
    c3.disconnect();
    await r.call('SPIRT.AVERAGE', 'sync-point', keys[0]); // queued behind the orphaned op, if still running
    expectBits(await getFloats(r, 'gone'), averageImpl(big.values, 'f32'));
  });

  test('MULTI and Lua run the op inline; the AOF replays every op to the same bits', async () => {
    const n = 600_000;
    const { keys, values } = await putAll('g:', 3, n, 17);
    const p = randomFloats(n, 18);
    await r.set('p', toBuffer(p));
    const tx = await r
      .multi()
      .call('SPIRT.AVERAGE', 'avg', ...keys)
      .call('SPIRT.SGD', 'p', 'avg', 'LR', '0.1', 'MOMENTUM', '0.9', 'm')
      .exec();
    expect(tx?.map(([err, res]) => err ?? res)).toEqual([n, n]);
    expect(
      await r.eval(
        "return redis.call('SPIRT.AGGREGATE', KEYS[1], 'MEDIAN', KEYS[2], KEYS[3], KEYS[4])",
        4,
        'med',
        ...keys,
      ),
    ).toBe(n);
    await r.call('SPIRT.SGD', 'p', 'avg', 'LR', '0.1', 'MOMENTUM', '0.9', 'm'); // sliced path
    const avg = averageImpl(values, 'f32');
    const buf = new Float32Array(n);
    sgdImpl(p, avg, buf, { lr: 0.1, momentum: 0.9 }, true, 'f32');
    sgdImpl(p, avg, buf, { lr: 0.1, momentum: 0.9 }, false, 'f32');
    const want = { avg, p, m: buf, med: aggregateImpl(values, { kind: 'median' }, 'f32') };
    for (const [key, v] of Object.entries(want)) expectBits(await getFloats(r, key), v);
    expect(await r.call('DEBUG', 'LOADAOF')).toBe('OK'); // flush + replay of the commands, incl. SPIRT.*
    for (const [key, v] of Object.entries(want)) expectBits(await getFloats(r, key), v);
  });

  test('an SGD aborted mid-way propagates the partial parameters verbatim (AOF matches the master)', async () => {
    const n = 6_000_000;
    const other = server.connect();
    await other.ping();
    const message = await interfereMidOp(
      other,
      async () => {
        await r.del('m');
        await r.set('p', toBuffer(randomFloats(n, 1)));
        await r.set('g', toBuffer(randomFloats(n, 2)));
      },
      () => r.call('SPIRT.SGD', 'p', 'g', 'LR', '0.1', 'MOMENTUM', '0.5', 'm'),
      () => other.setrange('g', 0, 'zzzz'),
    );
    expect(message).toMatch(/key 'g' was changed/);
    const p = await r.getBuffer('p');
    const m = await r.getBuffer('m');
    expect(await r.call('DEBUG', 'LOADAOF')).toBe('OK');
    const same = (a: Buffer | null, b: Buffer | null) => (a === null ? b === null : b !== null && a.equals(b));
    expect(same(await r.getBuffer('p'), p)).toBe(true);
    expect(same(await r.getBuffer('m'), m)).toBe(true);
  });
});
