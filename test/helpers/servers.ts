import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { allSearchAttributes } from '../../lib/protocol/search-attributes';
import { readToolchain } from '../../lib/stack/paths';
import { freePort } from '../../lib/stack/ports';
import { startRedisServer, type RedisProcess } from '../../lib/stack/redis-process';
import type { RedisEndpoint } from '../../lib/redis/connect';

/** The binaries setup recorded; tests need them (npm test runs setup first). */
export function toolchain() {
  const tc = readToolchain();
  if (!tc.temporal || !tc.redisServer) throw new Error('toolchain missing: run npm run setup first');
  return tc as { temporal: string; redisServer: string; module: string | null };
}

export interface TestRedis {
  server: RedisProcess;
  endpoint: RedisEndpoint;
  dir: string;
  stop(): Promise<void>;
}

/** A real redis-server on a free port, with a password and its own data dir (removed on stop). */
export async function startTestRedis(opts: { module?: boolean } = {}): Promise<TestRedis> {
  const tc = toolchain();
  const dir = mkdtempSync(join(tmpdir(), 'spirt-redis-'));
  const password = randomBytes(12).toString('hex');
  const port = await freePort();
  const server = await startRedisServer({
    executable: tc.redisServer,
    port,
    password,
    dir,
    modulePath: opts.module === false ? null : tc.module,
  });
  const handle: TestRedis = {
    server,
    endpoint: { host: server.host, port, password },
    dir,
    // Stops whichever server the handle holds now (a test may restart it in place).
    stop: async () => {
      await handle.server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return handle;
}

/** A real Temporal dev server (the temporal CLI setup built) with the spirt search attributes. */
export function startTestTemporal(): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: toolchain().temporal },
      searchAttributes: allSearchAttributes,
    },
  });
}
