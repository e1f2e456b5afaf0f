// What a warm function process keeps between invocations: one Redis connection and one trainer per model.
import type Redis from 'ioredis';
import { createTrainer, type Trainer } from '../lib/engine';
import { DataError } from '../lib/errors/data-error';
import type { RunPlan } from '../lib/protocol/plan';
import { connectRedis, type RedisEndpoint } from '../lib/redis/connect';
import { runKeys } from '../lib/redis/keys';

let endpoint: RedisEndpoint | null = null;
let client: Promise<Redis> | null = null;
const trainers = new Map<string, Promise<Trainer>>();
const plans = new Map<string, RunPlan>();

/**
 * Set by the local pool (from the worker's own config) and by the AWS Lambda entry (from each call's
 * envelope); else the environment is used. With `keepIfSame`, an unchanged endpoint keeps its connection
 * (a warm function reuses it).
 */
export function configurePeerRedis(next: RedisEndpoint, opts: { keepIfSame?: boolean } = {}): void {
  if (opts.keepIfSame && endpoint && JSON.stringify(endpoint) === JSON.stringify(next)) return;
  const previous = client;
  endpoint = next;
  client = null;
  if (previous) void previous.then((c) => c.disconnect()).catch(() => undefined);
}

function endpointFromEnv(): RedisEndpoint {
  const host = process.env.SPIRT_REDIS_HOST;
  const port = Number(process.env.SPIRT_REDIS_PORT);
  if (!host || !port) throw new Error('function runtime: no peer Redis configured (SPIRT_REDIS_HOST/SPIRT_REDIS_PORT)');
  return { host, port, password: process.env.SPIRT_REDIS_PASSWORD };
}

export function peerRedis(): Promise<Redis> {
  if (!client) {
    const target = endpoint ?? endpointFromEnv();
    client = connectRedis(target, { name: 'spirt-function' });
    client.catch(() => (client = null));
  }
  return client;
}

/** The trainer (and its ONNX sessions) is created once per warm process and reused. */
export function trainerFor(model: string): Promise<Trainer> {
  let trainer = trainers.get(model);
  if (!trainer) {
    trainer = createTrainer(model);
    trainers.set(model, trainer);
    trainer.catch(() => trainers.delete(model));
  }
  return trainer;
}

/** The run plan preparePeer wrote into the peer's Redis (read once per warm process and run). */
export async function runPlan(run: string): Promise<RunPlan> {
  const cached = plans.get(run);
  if (cached) return cached;
  const text = await (await peerRedis()).get(runKeys(run).plan);
  if (!text) throw new DataError(`run ${run} has no plan in this peer's Redis (peer not prepared?)`);
  const plan = JSON.parse(text) as RunPlan;
  plans.set(run, plan);
  return plan;
}

export async function closeRuntime(): Promise<void> {
  const current = client;
  client = null;
  if (current) (await current.catch(() => null))?.disconnect();
}
