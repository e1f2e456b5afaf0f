import Redis from 'ioredis';
import { StackError } from '../errors/stack-error';

/** Where a peer's Redis is and how to log in. The password never leaves the worker process. */
export interface RedisEndpoint {
  host: string;
  port: number;
  password?: string;
  username?: string;
  /** TLS to this server, trusting this CA certificate (PEM). */
  tls?: { ca: string };
}

export function formatAddress(endpoint: { host: string; port: number }): string {
  return `${endpoint.host}:${endpoint.port}`;
}

/**
 * Opens a connection that fails fast instead of queueing forever: an unreachable or
 * misconfigured peer Redis becomes one clear StackError.
 */
export async function connectRedis(endpoint: RedisEndpoint, opts: { name?: string; timeoutMs?: number } = {}) {
  const client = new Redis({
    host: endpoint.host,
    port: endpoint.port,
    password: endpoint.password,
    username: endpoint.username,
    ...(endpoint.tls ? { tls: { ca: endpoint.tls.ca } } : {}),
    connectionName: opts.name,
    // A least-privilege user may not run INFO (the ready check): it would only print a warning.
    enableReadyCheck: !endpoint.username,
    lazyConnect: true,
    connectTimeout: opts.timeoutMs ?? 3000,
    maxRetriesPerRequest: 2,
    // No retries while connecting: a refused connection or a wrong password is reported at once.
    retryStrategy: () => null,
  });
  let lastError: unknown = null;
  // Errors surface through the failing command; keep the last one to explain a failed connect.
  client.on('error', (err) => (lastError = err));
  try {
    await client.connect();
    await client.ping();
  } catch (err) {
    client.disconnect();
    throw new StackError(`cannot reach Redis at ${formatAddress(endpoint)}: ${describeRedisError(lastError ?? err)}`);
  }
  // Once connected, ride out short outages (a restarting peer) before failing commands.
  client.options.retryStrategy = (times) => (times > 10 ? null : Math.min(times * 100, 1000));
  return client;
}

/** Redis errors without anything that could carry a secret. */
export function describeRedisError(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  if (/WRONGPASS|invalid username-password/i.test(message)) return 'wrong password';
  if (/NOAUTH/i.test(message)) return 'authentication required';
  if (/ECONNREFUSED/.test(message)) return 'connection refused';
  if (/ETIMEDOUT|timeout|timed out/i.test(message)) return 'timed out';
  if (/max retries per request|Connection is closed|ECONNRESET|EPIPE/i.test(message)) return 'connection lost';
  return message.split('\n')[0];
}

export type RedisClient = Redis;
