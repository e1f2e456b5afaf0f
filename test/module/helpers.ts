// Shared helpers for the module tests: build the .so with make, start a real redis-server.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { packageRoot, readToolchain } from '../../lib/stack/paths';
import { freePort } from '../../lib/stack/ports';
import { stopChild } from '../../lib/stack/child';
import { startRedisServer, type RedisProcess } from '../../lib/stack/redis-process';

export const MODULE_DIR = join(packageRoot(), 'redisai-module');
/** One build dir per jest run; make only rebuilds what changed. */
export const BUILD_DIR =
  process.env.SPIRT_TEST_MODULE_BUILD ?? join(tmpdir(), `spirt-module-test-${process.getuid?.() ?? 0}`);

export function make(target: string, vars: Record<string, string> = {}): string {
  const args = ['-s', '-C', MODULE_DIR, `OUT_DIR=${BUILD_DIR}`, ...Object.entries(vars).map(([k, v]) => `${k}=${v}`)];
  if (target) args.push(target);
  return execFileSync('make', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
}

/** `SPIRT_TEST_ASAN=1 npx jest test/module` runs every module test against the ASan/UBSan build. */
export const ASAN_EVERYWHERE = process.env.SPIRT_TEST_ASAN === '1';

export function sanitizerEnv(logDir: string): Record<string, string> {
  const lib = (name: string) => execFileSync('cc', [`-print-file-name=${name}`], { encoding: 'utf8' }).trim();
  return {
    LD_PRELOAD: `${lib('libasan.so')} ${lib('libubsan.so')}`,
    ASAN_OPTIONS: `detect_leaks=0:abort_on_error=1:log_path=${join(logDir, 'asan')}`,
    UBSAN_OPTIONS: `print_stacktrace=1:halt_on_error=1:log_path=${join(logDir, 'ubsan')}`,
  };
}

export function buildModule(asan = ASAN_EVERYWHERE): string {
  const file = asan ? 'spirt-asan.so' : 'spirt.so';
  make(join(BUILD_DIR, file));
  return join(BUILD_DIR, file);
}

export function redisServerBinary(): string {
  return readToolchain().redisServer ?? '/usr/bin/redis-server';
}

export interface TestServer {
  redis: Redis;
  proc: RedisProcess;
  dir: string;
  port: number;
  password: string;
  /** A second connection (for PING latency or concurrent writes). */
  connect(): Redis;
  stop(): Promise<void>;
}

export interface StartOptions {
  modulePath?: string | null;
  /** The module's load arguments (e.g. FORK_CHILD_IDLE). */
  moduleArgs?: string[];
  extraConfig?: string[];
  /** Environment for redis-server only (e.g. LD_PRELOAD for the ASan build). */
  env?: Record<string, string>;
}

export async function startServer(opts: StartOptions = {}): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'spirt-redis-'));
  const port = await freePort();
  const password = `test-${Math.random().toString(36).slice(2)}`;
  const extraConfig = ['enable-debug-command yes', ...(opts.extraConfig ?? [])];
  // Jest gives tests a copy of process.env that child_process does not see, so a server that
  // needs its own environment (LD_PRELOAD for the ASan build) is spawned here directly.
  const env = opts.env ?? (ASAN_EVERYWHERE ? sanitizerEnv(dir) : undefined);
  const proc = env
    ? await spawnWithEnv(dir, port, password, opts.modulePath ?? null, opts.moduleArgs ?? [], extraConfig, env)
    : await startRedisServer({
        executable: redisServerBinary(),
        port,
        password,
        dir,
        modulePath: opts.modulePath ?? null,
        moduleArgs: opts.moduleArgs ?? [],
        extraConfig,
      });
  const clients: Redis[] = [];
  const connect = () => {
    const c = new Redis({ port, host: '127.0.0.1', password, maxRetriesPerRequest: 1 });
    clients.push(c);
    return c;
  };
  const redis = connect();
  return {
    redis,
    proc,
    dir,
    port,
    password,
    connect,
    stop: async () => {
      clients.forEach((c) => c.disconnect());
      await proc.stop();
      const reports = readdirSync(dir).filter((f) => f.startsWith('asan') || f.startsWith('ubsan'));
      if (reports.length > 0) {
        throw new Error(
          `sanitizer reports in ${dir}: ${reports.map((f) => readFileSync(join(dir, f), 'utf8')).join('\n')}`,
        );
      }
      if (!process.env.SPIRT_TEST_KEEP) rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function spawnWithEnv(
  dir: string,
  port: number,
  password: string,
  modulePath: string | null,
  moduleArgs: string[],
  extraConfig: string[],
  env: Record<string, string>,
): Promise<RedisProcess> {
  const config = join(dir, 'redis.conf');
  const lines = [
    `port ${port}`,
    'bind 127.0.0.1',
    `dir ${dir}`,
    'appendonly yes',
    'save ""',
    `logfile ${join(dir, 'redis.log')}`,
    `requirepass ${password}`,
    ...(modulePath ? [['loadmodule', modulePath, ...moduleArgs].join(' ')] : []),
    ...extraConfig,
  ];
  writeFileSync(config, lines.join('\n') + '\n', { mode: 0o600 });
  const child = spawn(redisServerBinary(), [config], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...env },
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const probe = new Redis({ port, host: '127.0.0.1', password, lazyConnect: true, maxRetriesPerRequest: 0 });
  probe.on('error', () => undefined);
  try {
    for (let i = 0; ; i++) {
      if (child.exitCode !== null) throw new Error(`redis-server exited (${child.exitCode}): ${stderr.slice(-500)}`);
      try {
        if (probe.status !== 'ready') await probe.connect();
        await probe.ping();
        break;
      } catch {
        probe.disconnect();
        if (i > 200) throw new Error(`redis-server did not start: ${stderr.slice(-500)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  } catch (err) {
    await stopChild(child, 1000);
    throw err;
  } finally {
    probe.disconnect();
  }
  return { port, host: '127.0.0.1', child, moduleLoaded: modulePath !== null, stop: () => stopChild(child) };
}

/** Deterministic pseudo-random float32 values in [-scale, scale). */
export function randomFloats(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = ((s / 4294967296) * 2 - 1) * scale;
  }
  return out;
}

export function toBuffer(values: Float32Array): Buffer {
  return Buffer.from(values.buffer, values.byteOffset, values.byteLength);
}

export async function getFloats(redis: Redis, key: string): Promise<Float32Array> {
  const blob = await redis.getBuffer(key);
  if (!blob) throw new Error(`no key ${key}`);
  const out = new Float32Array(blob.byteLength / 4);
  new Uint8Array(out.buffer).set(blob);
  return out;
}

/** Bit-exact comparison (NaN payloads and -0 included); returns the first differing index or -1. */
export function firstBitDifference(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return i;
  return -1;
}

/** Runs `op` while another connection PINGs in a loop; resolves to the op's result and the worst PING. */
export async function withPingMonitor<T>(
  pinger: Redis,
  op: () => Promise<T>,
): Promise<{ result: T; maxPingMs: number; pings: number }> {
  let done = false;
  let maxPingMs = 0;
  let pings = 0;
  const loop = (async () => {
    while (!done) {
      const t = process.hrtime.bigint();
      await pinger.ping();
      const ms = Number(process.hrtime.bigint() - t) / 1e6;
      pings++;
      if (ms > maxPingMs) maxPingMs = ms;
      await new Promise((r) => setImmediate(r));
    }
  })();
  try {
    const result = await op();
    return { result, maxPingMs, pings };
  } finally {
    done = true;
    await loop;
  }
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
