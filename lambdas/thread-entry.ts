// Entry of one local-pool worker thread: a warm "function instance" that runs the same handlers as Lambda.
import { parentPort, workerData } from 'node:worker_threads';
import { handlers, type FunctionName } from './index';
import { configurePeerRedis } from './runtime';
import type { RedisEndpoint } from '../lib/redis/connect';

interface Request {
  id: number;
  fn: FunctionName;
  event: unknown;
}

const data = workerData as { redis: RedisEndpoint };
configurePeerRedis(data.redis);

parentPort?.on('message', (request: Request) => {
  const handler = handlers[request.fn] as ((event: unknown) => Promise<unknown>) | undefined;
  const run = handler ? handler(request.event) : Promise.reject(new Error(`unknown function "${request.fn}"`));
  run.then(
    (result) => parentPort?.postMessage({ id: request.id, ok: true, result }),
    (err: Error) =>
      parentPort?.postMessage({ id: request.id, ok: false, error: { name: err.name, message: err.message } }),
  );
});
