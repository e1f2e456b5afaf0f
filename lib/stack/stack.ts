import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { StackError } from '../errors/stack-error';
import { peerIdForRank, peerTaskQueue } from '../protocol/names';
import { exitOf, stopChild } from './child';
import { packageRoot, readToolchain } from './paths';
import { assertPortsFree } from './ports';
import { startRedisServer, type RedisProcess } from './redis-process';
import { isAlive, stackFilePath, writeStackFile, type StackFile, type StackPeer } from './stack-file';
import { startTemporalDevServer, type TemporalDevServer } from './temporal-process';

export interface StackOptions {
  peers: number;
  stateDir: string;
  /** @default 7233 (UI on port + 1000) */
  temporalPort?: number;
  /** Peer i's Redis listens on redisPortBase + i. @default 6400 */
  redisPortBase?: number;
  /** Functions running at once per peer. @default 2 */
  functionsPerPeer?: number;
  /** Stack id, part of every task queue name. @default 'local' */
  id?: string;
  /** Progress lines (what is starting). */
  onProgress?: (line: string) => void;
}

export interface Stack {
  file: StackFile;
  stop(): Promise<void>;
  /** Resolves with a description when any component dies unexpectedly. */
  failure: Promise<string>;
}

/**
 * Starts the local stack: the Temporal dev server, one redis-server per peer and one worker process
 * per peer. On any failure everything already started is stopped before the error is thrown.
 */
export async function startStack(opts: StackOptions): Promise<Stack> {
  const progress = opts.onProgress ?? (() => undefined);
  const toolchain = readToolchain();
  if (!toolchain.temporal) {
    throw new StackError('temporal CLI not found: run npm run setup (it builds one), or set SPIRT_TEMPORAL_BIN');
  }
  if (!toolchain.redisServer) {
    throw new StackError(
      'redis-server not found: install the Debian package redis-server (or run npm run setup as root)',
    );
  }
  if (!(opts.peers >= 1 && opts.peers <= 64)) throw new StackError('--peers must be between 1 and 64');
  const stateDir = opts.stateDir;
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const existing = stackFilePath(stateDir);
  if (existsSync(existing)) {
    const { pid } = JSON.parse(readFileSync(existing, 'utf8')) as { pid: number };
    if (isAlive(pid) && pid !== process.pid)
      throw new StackError(`a stack is already running in ${stateDir} (pid ${pid})`);
    rmSync(existing);
  }
  const id = opts.id ?? 'local';
  const temporalPort = opts.temporalPort ?? 7233;
  const redisPortBase = opts.redisPortBase ?? 6400;
  const ranks = Array.from({ length: opts.peers }, (_, rank) => rank);
  await assertPortsFree([
    { port: temporalPort, what: 'Temporal gRPC' },
    { port: temporalPort + 1000, what: 'Temporal UI' },
    ...ranks.map((rank) => ({ port: redisPortBase + rank, what: `Redis of peer ${peerIdForRank(rank)}` })),
  ]);

  const started: { stop(): Promise<void> }[] = [];
  const children: { name: string; child: ChildProcess }[] = [];
  const stopAll = async () => {
    for (const s of started.reverse()) await s.stop().catch(() => undefined);
    started.length = 0;
  };
  try {
    progress(`starting Temporal dev server on 127.0.0.1:${temporalPort}`);
    const temporal: TemporalDevServer = await startTemporalDevServer({
      executable: toolchain.temporal,
      port: temporalPort,
      dbFile: join(stateDir, 'temporal', 'temporal.db'),
    });
    started.push(temporal);
    children.push({ name: 'Temporal dev server', child: temporal.child });

    const peers: StackPeer[] = [];
    const redisProcesses: RedisProcess[] = await Promise.all(
      ranks.map(async (rank) => {
        const peerId = peerIdForRank(rank);
        const dataDir = join(stateDir, 'peers', peerId);
        const password = randomBytes(24).toString('hex');
        const redis = await startRedisServer({
          executable: toolchain.redisServer as string,
          port: redisPortBase + rank,
          password,
          dir: dataDir,
          modulePath: toolchain.module,
        });
        started.push(redis);
        children.push({ name: `Redis of peer ${peerId}`, child: redis.child });
        peers[rank] = {
          id: peerId,
          rank,
          host: redis.host,
          port: redis.port,
          password,
          taskQueue: peerTaskQueue(id, peerId),
          dataDir,
        };
        return redis;
      }),
    );
    progress(
      `started ${opts.peers} redis-server processes${redisProcesses[0].moduleLoaded ? ' with the spirt module' : ' (Lua path: module not built)'}`,
    );

    progress('bundling workflow code');
    const bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows'), logger: quietLogger });
    const bundlePath = join(stateDir, 'workflow-bundle.js');
    writeFileSync(bundlePath, bundle.code);

    const file: StackFile = {
      id,
      pid: process.pid,
      startedAt: new Date().toISOString(),
      temporal: { address: temporal.address, namespace: 'default', uiUrl: temporal.uiUrl },
      peers,
      moduleLoaded: redisProcesses.every((r) => r.moduleLoaded),
      workflowBundle: bundlePath,
    };
    writeStackFile(stateDir, file);
    started.push({ stop: async () => rmSync(stackFilePath(stateDir), { force: true }) });

    progress(`starting ${opts.peers} peer workers`);
    const entry = join(packageRoot(), 'dist', 'workers', 'peer-worker-main.js');
    if (!existsSync(entry)) throw new StackError(`${entry} is missing; run npm run setup to build`);
    await Promise.all(
      peers.map(async (peer) => {
        const child = fork(entry, [stateDir, peer.id, String(opts.functionsPerPeer ?? 2)], {
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
          detached: true,
        });
        started.push({ stop: () => stopChild(child, 15_000) });
        children.push({ name: `worker of peer ${peer.id}`, child });
        await new Promise<void>((resolve, reject) => {
          child.once('message', () => resolve());
          child.once('exit', (code) =>
            reject(new StackError(`worker of peer ${peer.id} exited during start (code ${code})`)),
          );
        });
      }),
    );
    let stopping = false;
    const failure = Promise.race(
      children.map(async ({ name, child }) => {
        const how = await exitOf(child);
        return stopping ? new Promise<string>(() => undefined) : `${name} stopped unexpectedly (${how})`;
      }),
    );
    return {
      file,
      failure,
      stop: async () => {
        stopping = true;
        await stopAll();
      },
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

const quietLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
