// `spirt bench indb [--json] [--quick] [--reps N] [--models a,b] [--lua-max-floats N]`
//
// In-database training ops at the parameter counts of the paper's models (our 28x28, 10-class
// adaptations), k = 4 and 15 sources, against three baselines measured in the same run:
// - module_ms: SPIRT.AVERAGE / SPIRT.SGD in a redis-server with the spirt module, timed by the
//   client (best of reps, after warm-up; the machine is shared, so the best run is the stable statistic);
// - lua_ms: the sliced Lua path (lua/*.lua) on the same server, one run;
// - client_ms: fetch-process-store through ioredis on loopback (GET, compute in Node, SET), one run;
// - c_ref_ms: a plain C loop over arrays of the same size in a separate process
//   (bench/c-ref/cref.c, built by this bench with the module's flags; best of reps);
// - max_ping_ms_*: the worst PING latency another connection saw while the op ran.
// SGD rows use momentum 0.9 and weight decay 1e-4 (the training loop's update); k is 1 there.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { logger } from '../lib/log';
import { averageTensors, sgdUpdate } from '../lib/redis/tensor-ops';
import { packageRoot, readToolchain } from '../lib/stack/paths';
import { freePort } from '../lib/stack/ports';
import { startRedisServer } from '../lib/stack/redis-process';

/** Parameter counts of the zoo's adaptations (1x28x28 input, 10 classes; `spirt models`, docs/models.md). */
export const INDB_MODELS: Record<string, number> = {
  mobilenet_v3_small: 1_527_818,
  resnet18: 11_175_370,
  densenet121: 6_957_834,
};

export interface IndbResult {
  model: string;
  params: number;
  k: number;
  op: 'average' | 'sgd';
  module_ms: number;
  lua_ms: number;
  client_ms: number;
  c_ref_ms: number;
  max_ping_ms_module: number;
  max_ping_ms_lua: number;
}

interface Options {
  json: boolean;
  quick: boolean;
  reps: number;
  models: string[];
  ks: number[];
  /** Above this many floats per tensor, --quick runs Lua on a prefix and scales the time. */
  luaMaxFloats: number;
}

function parseArgs(argv: string[]): Options {
  const opts: Options = {
    json: false,
    quick: false,
    reps: 7,
    models: Object.keys(INDB_MODELS),
    ks: [4, 15],
    luaMaxFloats: 1_000_000,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--json') opts.json = true;
    else if (a === '--quick') opts.quick = true;
    else if (a === '--reps') opts.reps = Math.max(1, Math.min(50, Number(next())));
    else if (a === '--models') opts.models = next().split(',');
    else if (a === '--k') opts.ks = next().split(',').map(Number);
    else if (a === '--lua-max-floats') opts.luaMaxFloats = Number(next());
    else
      throw new Error(
        `unknown option ${a} (expected --json, --quick, --reps N, --models a,b, --k 4,15, --lua-max-floats N)`,
      );
  }
  for (const m of opts.models) if (!(m in INDB_MODELS)) throw new Error(`unknown model ${m}`);
  if (opts.quick) opts.reps = Math.min(opts.reps, 3);
  return opts;
}

const round = (x: number) => Math.round(x * 100) / 100;

function randomSource(n: number, seed: number): Buffer {
  const values = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    values[i] = (s / 4294967296) * 2 - 1;
  }
  return Buffer.from(values.buffer);
}

/** Runs op while `pinger` PINGs in a loop; returns the op's wall time and the worst PING. */
async function timed(pinger: Redis | null, op: () => Promise<unknown>): Promise<{ ms: number; maxPing: number }> {
  let done = false;
  let maxPing = 0;
  const loop = pinger
    ? (async () => {
        while (!done) {
          const t = process.hrtime.bigint();
          await pinger.ping();
          maxPing = Math.max(maxPing, Number(process.hrtime.bigint() - t) / 1e6);
          await new Promise((r) => setImmediate(r));
        }
      })()
    : Promise.resolve();
  const t0 = process.hrtime.bigint();
  try {
    await op();
  } finally {
    done = true;
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  await loop;
  return { ms, maxPing };
}

/**
 * Module op timing: two warm-up runs (the first creates the destination or momentum buffer), the
 * best of `reps` runs with nothing else running (as for the C reference), then two runs with
 * the pinger for the worst PING latency (the pinger competes for the 2 cores, so it is kept out
 * of the timed runs).
 */
async function moduleTiming(
  redis: Redis,
  pinger: Redis,
  reps: number,
  op: () => Promise<unknown>,
): Promise<{ ms: number; maxPing: number }> {
  await op();
  await op();
  const runs: number[] = [];
  for (let r = 0; r < reps; r++) runs.push((await timed(null, op)).ms);
  let maxPing = 0;
  for (let r = 0; r < 2; r++) maxPing = Math.max(maxPing, (await timed(pinger, op)).maxPing);
  return { ms: Math.min(...runs), maxPing };
}

function buildTools(): { modulePath: string; cref: string } {
  const root = packageRoot();
  const out = join(tmpdir(), `spirt-bench-${process.getuid?.() ?? 0}`);
  mkdirSync(out, { recursive: true });
  // The module under test is built from this checkout (make is incremental), so the numbers
  // always belong to the sources next to them; SPIRT_MODULE_PATH overrides.
  const override = process.env.SPIRT_MODULE_PATH;
  let modulePath = override && override !== 'none' ? override : '';
  if (!modulePath) {
    execFileSync('make', ['-s', '-C', join(root, 'redisai-module'), `OUT_DIR=${out}`], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    modulePath = join(out, 'spirt.so');
  }
  const cref = join(out, 'cref');
  execFileSync(
    process.env.CC ?? 'cc',
    ['-O3', '-ffp-contract=off', '-o', cref, join(root, 'bench', 'c-ref', 'cref.c')],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  return { modulePath, cref };
}

function cRef(cref: string, args: string[]): number {
  const out = execFileSync(cref, args, { encoding: 'utf8' });
  return (JSON.parse(out) as { min_ms: number }).min_ms;
}

export async function main(argv: string[]): Promise<void> {
  const opts = parseArgs(argv);
  const { modulePath, cref } = buildTools();
  const dir = join(tmpdir(), `spirt-bench-redis-${process.pid}`);
  const port = await freePort();
  const password = `bench-${process.pid}`;
  // No AOF: the bench measures compute, not the disk (the module replicates only the command).
  const server = await startRedisServer({
    executable: readToolchain().redisServer ?? '/usr/bin/redis-server',
    port,
    password,
    dir,
    modulePath,
    extraConfig: ['appendonly no', 'loglevel warning'],
  });
  const connect = () => new Redis({ port, host: '127.0.0.1', password, maxRetriesPerRequest: 1 });
  const redis = connect();
  const pinger = connect();
  const results: IndbResult[] = [];
  try {
    await pinger.ping();
    const maxK = Math.max(...opts.ks);
    for (const model of opts.models) {
      const n = INDB_MODELS[model];
      logger.info({ model, params: n }, 'indb: loading sources');
      const sources: Buffer[] = [];
      for (let j = 0; j < maxK; j++) {
        sources.push(randomSource(n, j + 1));
        await redis.set(`bench:g:${j}`, sources[j]);
      }
      const luaFloats = opts.quick ? Math.min(n, opts.luaMaxFloats) : n;
      if (luaFloats < n) {
        for (let j = 0; j < maxK; j++) await redis.set(`bench:lg:${j}`, sources[j].subarray(0, luaFloats * 4));
      }
      const luaScale = n / luaFloats;
      type Timing = { ms: number; maxPing: number };
      // One result row; the Lua path ran on a prefix of luaFloats floats and is scaled to the full size.
      const resultRow = (
        op: IndbResult['op'],
        k: number,
        mod: Timing,
        lua: Timing,
        client: Timing,
        cRefMs: number,
      ): IndbResult => ({
        model,
        params: n,
        k,
        op,
        module_ms: round(mod.ms),
        lua_ms: round(lua.ms * luaScale),
        client_ms: round(client.ms),
        c_ref_ms: round(cRefMs),
        max_ping_ms_module: round(mod.maxPing),
        max_ping_ms_lua: round(lua.maxPing),
      });
      const luaPrefix = luaFloats < n ? 'bench:lg:' : 'bench:g:';

      // Module first, while this process is quiet (the client path allocates and collects
      // gigabytes of buffers, and a GC pause would land in a client-side timing).
      const moduleAvg = new Map<number, { ms: number; maxPing: number }>();
      for (const k of opts.ks) {
        const keys = Array.from({ length: k }, (_, j) => `bench:g:${j}`);
        moduleAvg.set(
          k,
          await moduleTiming(redis, pinger, opts.reps, () => redis.call('SPIRT.AVERAGE', 'bench:avg', ...keys)),
        );
      }
      // SGD with momentum and weight decay, in place.
      await redis.copy('bench:g:0', 'bench:p', 'REPLACE');
      await redis.del('bench:m');
      const sgdArgs = ['bench:p', 'bench:g:1', 'LR', '0.01', 'MOMENTUM', '0.9', 'bench:m', 'WEIGHTDECAY', '0.0001'];
      const moduleSgd = await moduleTiming(redis, pinger, opts.reps, () => redis.call('SPIRT.SGD', ...sgdArgs));

      for (const k of opts.ks) {
        const keys = Array.from({ length: k }, (_, j) => `bench:g:${j}`);
        const cRefMs = cRef(cref, ['average', String(n), String(k), String(opts.reps)]);
        const luaKeys = Array.from({ length: k }, (_, j) => `${luaPrefix}${j}`);
        const lua = await timed(pinger, () => averageTensors(redis, 'bench:lavg', luaKeys, { path: 'lua' }));
        const client = await timed(null, () => averageTensors(redis, 'bench:cavg', keys, { path: 'client' }));
        const mod = moduleAvg.get(k) as { ms: number; maxPing: number };
        const row = resultRow('average', k, mod, lua, client, cRefMs);
        logger.info({ ...row, lua_floats: luaFloats }, 'indb: average');
        results.push(row);
      }

      const sgdRef = cRef(cref, ['sgd', String(n), String(opts.reps)]);
      const hp = { lr: 0.01, momentum: 0.9, weightDecay: 1e-4, checkFinite: false };
      const luaP = `${luaPrefix}0`;
      const luaG = `${luaPrefix}1`;
      await redis.copy(luaP, 'bench:lp', 'REPLACE');
      await redis.set('bench:lm', Buffer.alloc(luaFloats * 4)); // an existing buffer, as in the module runs
      const luaSgd = await timed(pinger, () =>
        sgdUpdate(redis, 'bench:lp', luaG, { ...hp, momentumKey: 'bench:lm' }, { path: 'lua' }),
      );
      const clientSgd = await timed(null, () =>
        sgdUpdate(redis, 'bench:p', 'bench:g:1', { ...hp, momentumKey: 'bench:m' }, { path: 'client' }),
      );
      const row = resultRow('sgd', 1, moduleSgd, luaSgd, clientSgd, sgdRef);
      logger.info({ ...row, lua_floats: luaFloats }, 'indb: sgd');
      results.push(row);
      await redis.flushall();
    }
  } finally {
    redis.disconnect();
    pinger.disconnect();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const report = { suite: 'indb', results };
  if (opts.json) {
    process.stdout.write(JSON.stringify(report) + '\n');
    return;
  }
  const header = ['model', 'op', 'k', 'module_ms', 'c_ref_ms', 'ratio', 'lua_ms', 'client_ms', 'ping_mod', 'ping_lua'];
  const lines = [header.join('\t')];
  for (const r of results) {
    lines.push(
      [
        r.model,
        r.op,
        r.k,
        r.module_ms,
        r.c_ref_ms,
        round(r.module_ms / r.c_ref_ms),
        r.lua_ms,
        r.client_ms,
        r.max_ping_ms_module,
        r.max_ping_ms_lua,
      ].join('\t'),
    );
  }
  if (opts.quick)
    lines.push(`(--quick: Lua timed on the first ${opts.luaMaxFloats} floats per tensor and scaled linearly)`);
  process.stdout.write(lines.join('\n') + '\n');
}
