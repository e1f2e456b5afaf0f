import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { FunctionEvents, FunctionName, FunctionResults } from '../protocol/functions';
import type { RedisEndpoint } from '../redis/connect';
import { packageRoot } from '../stack/paths';
import { FunctionError, type Invoker } from './types';

interface Task {
  id: number;
  fn: FunctionName;
  event: unknown;
  resolve(result: unknown): void;
  reject(err: Error): void;
}

interface Slot {
  worker: Worker;
  task: Task | null;
}

export interface LocalPoolOptions {
  /** The peer's Redis, handed to each thread (never put in events). */
  redis: RedisEndpoint;
  /** Maximum functions running at once. */
  concurrency: number;
  /**
   * Niceness each function thread gives itself (Linux: a thread's own priority), so that the peer's
   * coordination is not queued behind gradient computation on a shared CPU. @default 0 (unchanged)
   */
  nice?: number;
  /**
   * Linux: each function thread also takes the SCHED_IDLE policy, so that any of the host's other threads takes
   * the CPU from it as soon as it wakes (lambdas/thread-entry.ts). @default false
   */
  idle?: boolean;
}

/**
 * A pool of worker threads running the function handlers with a concurrency limit. Threads stay warm
 * (their ONNX sessions and datasets are reused); a thread that crashes fails its task and is replaced.
 */
export class LocalPoolInvoker implements Invoker {
  private readonly slots: Slot[] = [];
  private readonly queue: Task[] = [];
  private nextId = 1;
  private closed = false;
  private readonly entry: string;

  constructor(private readonly opts: LocalPoolOptions) {
    if (!(opts.concurrency >= 1)) throw new Error('local pool: concurrency must be >= 1');
    this.entry = join(packageRoot(), 'dist', 'lambdas', 'thread-entry.js');
    if (!existsSync(this.entry)) throw new Error(`local pool: ${this.entry} is missing; run npm run setup to build`);
  }

  invoke<K extends FunctionName>(fn: K, event: FunctionEvents[K]): Promise<FunctionResults[K]> {
    if (this.closed) return Promise.reject(new Error('local pool is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, fn, event, resolve: resolve as (r: unknown) => void, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let slot = this.slots.find((s) => s.task === null);
      if (!slot && this.slots.length < this.opts.concurrency) slot = this.spawn();
      if (!slot) return;
      const task = this.queue.shift() as Task;
      slot.task = task;
      slot.worker.postMessage({ id: task.id, fn: task.fn, event: task.event });
    }
  }

  private spawn(): Slot {
    const worker = new Worker(this.entry, {
      workerData: { redis: this.opts.redis, nice: this.opts.nice ?? 0, idle: this.opts.idle ?? false },
    });
    const slot: Slot = { worker, task: null };
    worker.on(
      'message',
      (msg: { id: number; ok: boolean; result?: unknown; error?: { name: string; message: string } }) => {
        const task = slot.task;
        if (!task || task.id !== msg.id) return;
        slot.task = null;
        if (msg.ok) task.resolve(msg.result);
        else
          task.reject(new FunctionError(task.fn, msg.error?.name ?? 'Error', msg.error?.message ?? 'function failed'));
        this.dispatch();
      },
    );
    const fail = (err: Error) => {
      const index = this.slots.indexOf(slot);
      if (index >= 0) this.slots.splice(index, 1);
      if (slot.task)
        slot.task.reject(new FunctionError(slot.task.fn, 'FunctionCrash', `function thread died: ${err.message}`));
      slot.task = null;
      if (!this.closed) this.dispatch();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => {
      if (!this.closed) fail(new Error(`exit code ${code}`));
    });
    this.slots.push(slot);
    return slot;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const task of this.queue.splice(0)) task.reject(new Error('local pool closed'));
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    this.slots.length = 0;
  }
}
