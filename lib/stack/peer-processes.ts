// One peer's processes on its host: its redis-server (with the module) and its worker. Used by
// `spirt peer start` for one peer and by `spirt up` for each local peer: one code path.
import { fork, type ChildProcess } from 'node:child_process';
import { appendFileSync, chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { StackError } from '../errors/stack-error';
import type { NetworkPeer } from '../peer/network-file';
import { describeExit, killChild, stopChild } from './child';
import { peerLogFile, type PeerConfig } from './peer-config';
import { packageRoot } from './paths';
import { startRedisServer, type RedisProcess } from './redis-process';

/**
 * V8 flags of every peer worker. `--single-threaded-gc`: each isolate collects its garbage on its own thread
 * instead of on V8's shared helper threads. Those helpers run at the worker's niceness (0) for every isolate of
 * the process, the function threads' too (niceness 19), whose 6 MB tensors keep the collector busy: their
 * marking competed with the step's tail (copies, aggregation, update) instead of with the functions.
 * docs/benchmarks.md: mobilenet_v3_small at 4 peers, non-compute time per step about a fifth lower.
 */
export const WORKER_V8_FLAGS = ['--single-threaded-gc'];

export interface PeerProcessesOptions {
  config: PeerConfig;
  /** Where the worker reads `config` from. */
  configPath: string;
  /** This peer's entry in the network file (its public Redis endpoint). */
  listed: NetworkPeer;
  /** The password of the Redis `default` user (the peer's owner), opened from its identity. */
  ownerPassword: string;
  redisServer: string;
  modulePath: string | null;
  /** Extra environment of the worker (AWS_PROFILE, AWS_REGION ...), over this process's. */
  env?: Record<string, string>;
  /** A process that stops without being asked to: what stopped and how (`killed`, `exit code 1`). */
  onUnexpectedExit?: (what: string, how: string) => void;
}

export class PeerProcesses {
  redis: RedisProcess | null = null;
  worker: ChildProcess | null = null;
  /** Children being stopped on purpose: their exit is not news. */
  private readonly deliberate = new WeakSet<ChildProcess>();
  private stopping = false;

  constructor(private readonly opts: PeerProcessesOptions) {}

  get id(): string {
    return this.opts.config.peer;
  }

  /**
   * Starts the peer's redis-server. `users`: the aclfile lines of a first start (written afresh); null on a
   * restart (the users saved since stay).
   */
  async startRedis(users: string[] | null = null): Promise<RedisProcess> {
    const { config, listed } = this.opts;
    const server = await startRedisServer({
      executable: this.opts.redisServer,
      bind: config.bind ?? listed.redis.host,
      port: listed.redis.port,
      password: this.opts.ownerPassword,
      users,
      dir: config.dir,
      ...(config.tls ? { tls: config.tls } : {}),
      ...(config.appendOnly === false ? { appendOnly: false } : {}),
      modulePath: this.opts.modulePath,
      // Its append-only file's rewrites (a forked child) take the CPU only when nothing else wants it.
      ...(config.redisForkIdle !== false ? { moduleArgs: ['FORK_CHILD_IDLE'] } : {}),
    });
    this.redis = server;
    this.watch(`redis of peer ${this.id}`, server.child);
    return server;
  }

  /** Forks the worker (output appended to its log file) and resolves once it is polling Temporal. */
  async startWorker(): Promise<ChildProcess> {
    const entry = join(packageRoot(), 'dist', 'workers', 'peer-worker-main.js');
    if (!existsSync(entry)) throw new StackError(`${entry} is missing; run npm run setup to build`);
    const logFile = peerLogFile(this.opts.config);
    mkdirSync(dirname(logFile), { recursive: true, mode: 0o700 });
    const log = openSync(logFile, 'a', 0o600);
    let child: ChildProcess;
    try {
      chmodSync(logFile, 0o600);
      child = fork(entry, [this.opts.configPath], {
        stdio: ['ignore', log, log, 'ipc'],
        // Profiling hook: SPIRT_WORKER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" (NODE_OPTIONS refuses these);
        // its flags come last, so `--no-single-threaded-gc` there restores V8's helper threads.
        execArgv: [
          ...process.execArgv,
          ...WORKER_V8_FLAGS,
          ...(process.env.SPIRT_WORKER_NODE_ARGS?.split(/\s+/).filter(Boolean) ?? []),
        ],
        detached: true,
        ...(this.opts.env ? { env: { ...process.env, ...this.opts.env } } : {}),
      });
    } finally {
      closeSync(log);
    }
    this.worker = child;
    appendLogLine(logFile, 30, this.id, child.pid, 'worker process started');
    const name = `worker of peer ${this.id}`;
    child.once('exit', (code, signal) =>
      appendLogLine(logFile, 40, this.id, child.pid, `worker process exited (${describeExit(code, signal)})`),
    );
    await new Promise<void>((resolve, reject) => {
      const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
        reject(
          new StackError(
            `${name} exited during start (${describeExit(code, signal)}): ${lastError(logFile)}; see ${logFile}`,
          ),
        );
      child.once('exit', onExit);
      child.once('message', () => {
        child.off('exit', onExit);
        resolve();
      });
    });
    // Watched once ready: a worker that fails to start is the start's error, not news.
    this.watch(name, child);
    return child;
  }

  /** SIGKILL the worker and wait until it has exited. */
  async killWorker(): Promise<void> {
    await this.kill(this.worker);
  }

  /** Start the worker again (stopping it first if it runs) and wait until it is ready. */
  async restartWorker(): Promise<void> {
    const current = this.worker;
    if (current && current.exitCode === null && current.signalCode === null) {
      this.deliberate.add(current);
      await stopChild(current, 15_000);
    }
    await this.startWorker();
  }

  /** SIGKILL the redis-server and wait until it has exited. */
  async killRedis(): Promise<void> {
    await this.kill(this.redis?.child ?? null);
  }

  /** Start the redis-server again: same port, password and data dir (its append-only file reloads). */
  async restartRedis(): Promise<void> {
    const current = this.redis;
    if (current) {
      this.deliberate.add(current.child);
      await current.stop();
    }
    await this.startRedis();
  }

  /** Stops the worker (SIGTERM, then SIGKILL after 15 s). */
  async stopWorker(): Promise<void> {
    this.stopping = true;
    if (this.worker) await stopChild(this.worker, 15_000).catch(() => undefined);
  }

  /** Stops the worker, then the redis-server. */
  async stop(): Promise<void> {
    await this.stopWorker();
    if (this.redis) await this.redis.stop().catch(() => undefined);
  }

  private async kill(child: ChildProcess | null): Promise<void> {
    if (!child) return;
    this.deliberate.add(child);
    await killChild(child);
  }

  private watch(name: string, child: ChildProcess): void {
    const report = (code: number | null, signal: NodeJS.Signals | null) => {
      if (this.stopping || this.deliberate.has(child)) return;
      this.opts.onUnexpectedExit?.(name, describeExit(code, signal));
    };
    if (child.exitCode !== null || child.signalCode !== null) report(child.exitCode, child.signalCode);
    else child.once('exit', report);
  }
}

/** The message of the last error line of a worker log (JSON lines), for a start failure's message. */
function lastError(logFile: string): string {
  try {
    const lines = readFileSync(logFile, 'utf8').trim().split('\n').reverse();
    for (const line of lines) {
      const entry = JSON.parse(line) as { level?: number; msg?: string; err?: { message?: string } };
      if ((entry.level ?? 0) >= 50)
        return `${entry.msg ?? 'error'}${entry.err?.message ? `: ${entry.err.message}` : ''}`;
    }
  } catch {
    // Fall through: the log has no parsable error line.
  }
  return 'no error in its log';
}

/** A pino-shaped JSON line, so a worker's log file stays one JSON object per line. */
function appendLogLine(file: string, level: number, peer: string, workerPid: number | undefined, msg: string): void {
  const line = { level, time: Date.now(), pid: process.pid, name: 'spirt-peer', peer, workerPid, msg };
  try {
    appendFileSync(file, JSON.stringify(line) + '\n');
  } catch {
    // A log line is not worth failing the peer for.
  }
}
