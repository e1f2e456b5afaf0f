import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Connection } from '@temporalio/client';
import { StackError } from '../errors/stack-error';
import { searchAttributeFlags } from '../protocol/search-attributes';
import { exitOf, stopChild } from './child';
import { assertPortsFree } from './ports';

export interface TemporalDevServerOptions {
  executable: string;
  /** Address the gRPC frontend and the UI listen on (a loopback address here). @default '127.0.0.1' */
  host?: string;
  /** gRPC port. @default 7233 */
  port: number;
  /** Web UI port. @default port + 1000 */
  uiPort?: number;
  /** SQLite file that keeps workflows across restarts. */
  dbFile: string;
  /** Where the server's output goes (appended, mode 0600). @default `temporal.log` beside dbFile */
  logFile?: string;
  /** @default 60000 (the first start creates the database) */
  startTimeoutMs?: number;
  /**
   * Register the spirt search attributes on the command line; false leaves them to `spirt temporal setup`
   * (as on any other cluster). @default true
   */
  searchAttributes?: boolean;
  /**
   * Let the server hand a scheduled activity straight back to the worker that scheduled it, in the reply to
   * the workflow task (eager activity dispatch), instead of through a task-queue poll. Off by default until
   * the fault tests' status-query waits hold at the faster step rate (docs/benchmarks.md). @default false
   */
  eagerActivities?: boolean;
}

export interface TemporalDevServer {
  address: string;
  /** The server's output. */
  logFile: string;
  uiUrl: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts `temporal server start-dev` with a durable database and the spirt search attributes.
 * @throws StackError when the binary is missing, a port is taken, or the server does not come up.
 */
export async function startTemporalDevServer(opts: TemporalDevServerOptions): Promise<TemporalDevServer> {
  if (!existsSync(opts.executable)) {
    throw new StackError(`temporal CLI not found at ${opts.executable}; run npm run setup (or set SPIRT_TEMPORAL_BIN)`);
  }
  const uiPort = opts.uiPort ?? opts.port + 1000;
  const host = opts.host ?? '127.0.0.1';
  await assertPortsFree([
    { port: opts.port, what: 'Temporal gRPC', host },
    { port: uiPort, what: 'Temporal UI', host },
  ]);
  mkdirSync(dirname(opts.dbFile), { recursive: true });
  const args = [
    'server',
    'start-dev',
    '--ip',
    host,
    '--port',
    String(opts.port),
    '--ui-port',
    String(uiPort),
    '--db-filename',
    opts.dbFile,
    '--log-level',
    'error',
    // WAL with synchronous=NORMAL: still durable across process crashes and restarts, without an
    // fsync per history write (which dominated step latency).
    '--sqlite-pragma',
    'journal_mode=wal',
    '--sqlite-pragma',
    'synchronous=normal',
    ...(opts.searchAttributes === false ? [] : searchAttributeFlags().flatMap((flag) => ['--search-attribute', flag])),
    '--dynamic-config-value',
    `system.enableActivityEagerExecution=${opts.eagerActivities === true ? 'true' : 'false'}`,
  ];
  const logFile = opts.logFile ?? join(dirname(opts.dbFile), 'temporal.log');
  mkdirSync(dirname(logFile), { recursive: true, mode: 0o700 });
  const log = openSync(logFile, 'a', 0o600);
  chmodSync(logFile, 0o600);
  let child: ChildProcess;
  try {
    child = spawn(opts.executable, args, { stdio: ['ignore', log, log], detached: true });
  } finally {
    // The child holds its own copy of the descriptor.
    closeSync(log);
  }
  const address = `${host}:${opts.port}`;
  const deadline = Date.now() + (opts.startTimeoutMs ?? 60_000);
  try {
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        const exit = await exitOf(child);
        throw new StackError(`temporal dev server exited (${exit}); see ${logFile}${logTail(logFile)}`);
      }
      try {
        const connection = await Connection.connect({ address, connectTimeout: 1000 });
        try {
          await connection.workflowService.getSystemInfo({});
        } finally {
          await connection.close();
        }
        break;
      } catch {
        if (Date.now() > deadline) throw new StackError(`temporal dev server did not answer on ${address} in time`);
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  } catch (err) {
    await stopChild(child, 2000);
    throw err;
  }
  return { address, uiUrl: `http://${host}:${uiPort}`, logFile, child, stop: () => stopChild(child, 10_000) };
}

/** The last lines of the server's log, for an error that would otherwise point at a file a test deletes. */
function logTail(logFile: string): string {
  try {
    const lines = readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-5);
    return lines.length > 0 && lines[0] !== '' ? `; it ended with:\n${lines.join('\n')}` : '';
  } catch {
    return '';
  }
}
