// Entry of one local-pool worker thread: a warm "function instance" that runs the same handlers as Lambda.
import { spawnSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { handlers, type FunctionName } from './index';
import { configurePeerRedis } from './runtime';
import type { RedisEndpoint } from '../lib/redis/connect';

interface Request {
  id: number;
  fn: FunctionName;
  event: unknown;
}

const data = workerData as { redis: RedisEndpoint; nice?: number; idle?: boolean };
configurePeerRedis(data.redis);
lowerOwnPriority(data.nice ?? 0, data.idle ?? false);

/**
 * Linux gives each thread its own niceness and scheduling policy: /proc/thread-self names this thread's id,
 * and setpriority (and `chrt`) on it leave the rest of the process (the worker's coordination) alone; the
 * threads the function's ONNX session starts later inherit both. Elsewhere the pool runs unchanged.
 *
 * Niceness alone weighs this thread only against the threads of its own process: a process started in a session
 * of its own (every peer process is) is a scheduling group of its own under Linux's autogroups, and the groups
 * share the CPU equally whatever their threads' niceness. SCHED_IDLE also makes every other thread that wakes up
 * (a Redis server answering, a worker's main thread) take the CPU from this one at once, whatever its group.
 */
function lowerOwnPriority(nice: number, idle: boolean): void {
  if (!nice && !idle) return;
  let tid: number;
  try {
    tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
  } catch {
    return; // not Linux: functions run at the worker's priority
  }
  if (!(Number.isInteger(tid) && tid > 0)) return;
  try {
    if (nice) setPriority(tid, nice);
  } catch {
    // not allowed: the worker's niceness
  }
  // util-linux's chrt (Node has no sched_setscheduler); without it, niceness only.
  if (idle) spawnSync('chrt', ['--idle', '--pid', '0', String(tid)], { stdio: 'ignore', timeout: 5_000 });
}

parentPort?.on('message', (request: Request) => {
  const handler = handlers[request.fn] as ((event: unknown) => Promise<unknown>) | undefined;
  const run = handler ? handler(request.event) : Promise.reject(new Error(`unknown function "${request.fn}"`));
  run.then(
    (result) => parentPort?.postMessage({ id: request.id, ok: true, result }),
    (err: Error) =>
      parentPort?.postMessage({ id: request.id, ok: false, error: { name: err.name, message: err.message } }),
  );
});
