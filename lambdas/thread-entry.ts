// Entry of one local-pool worker thread: a warm "function instance" that runs the same handlers as Lambda.
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

const data = workerData as { redis: RedisEndpoint; nice?: number };
configurePeerRedis(data.redis);
if (data.nice) lowerOwnPriority(data.nice);

/**
 * Linux gives each thread its own niceness: /proc/thread-self names this thread's id, and setpriority on it
 * leaves the rest of the process (the worker's coordination) alone. Elsewhere the pool runs unchanged.
 */
function lowerOwnPriority(nice: number): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, nice);
  } catch {
    // not Linux, or not allowed: functions run at the worker's priority
  }
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
