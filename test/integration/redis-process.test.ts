import { createServer } from 'node:net';
import Redis from 'ioredis';
import { connectRedis } from '../../lib/redis/connect';
import { freePort } from '../../lib/stack/ports';
import { startRedisServer } from '../../lib/stack/redis-process';
import { StackError } from '../../lib/errors';
import { startTestRedis, toolchain, type TestRedis } from '../helpers/servers';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

describe('redis-server per peer', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startTestRedis();
  });
  afterAll(async () => {
    await redis.stop();
  });

  it('requires the password, keeps it out of argv, and uses an append-only file', async () => {
    const client = await connectRedis(redis.endpoint);
    await client.set('k', 'v');
    expect(await client.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
    client.disconnect();
    const cmdline = readFileSync(`/proc/${redis.server.child.pid}/cmdline`, 'utf8');
    expect(cmdline).not.toContain(redis.endpoint.password as string);
    expect(statSync(join(redis.dir, 'redis.conf')).mode & 0o077).toBe(0);
    expect(existsSync(join(redis.dir, 'appendonlydir'))).toBe(true);
  });

  it('reports a wrong password without echoing it', async () => {
    const attempt = connectRedis({ ...redis.endpoint, password: 'not-the-password' });
    await expect(attempt).rejects.toThrow(StackError);
    await expect(connectRedis({ ...redis.endpoint, password: 'not-the-password' })).rejects.toThrow(
      /cannot reach Redis at 127\.0\.0\.1:\d+: wrong password$/,
    );
  });

  it('reports an unreachable server', async () => {
    const port = await freePort();
    await expect(connectRedis({ host: '127.0.0.1', port }, { timeoutMs: 500 })).rejects.toThrow(/connection refused/);
  });

  it('refuses a port already in use, leaving nothing running', async () => {
    const blocker = createServer();
    const port = await freePort();
    await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', () => r()));
    try {
      await expect(
        startRedisServer({ executable: toolchain().redisServer, port, password: 'x', dir: join(redis.dir, 'other') }),
      ).rejects.toThrow(`port ${port} (redis-server) is already in use`);
    } finally {
      blocker.close();
    }
  });

  it('keeps data across a restart (append-only file in the data dir)', async () => {
    const client = new Redis({ ...redis.endpoint, lazyConnect: true });
    await client.connect();
    await client.set('durable', 'yes');
    await client.call('CONFIG', 'SET', 'appendfsync', 'always');
    await client.set('durable2', 'yes');
    client.disconnect();
    await redis.server.stop();
    const again = await startRedisServer({
      executable: toolchain().redisServer,
      port: redis.endpoint.port,
      password: redis.endpoint.password as string,
      dir: redis.dir,
      modulePath: toolchain().module,
    });
    redis.server = again;
    const check = await connectRedis(redis.endpoint);
    expect(await check.get('durable2')).toBe('yes');
    check.disconnect();
  });
});
