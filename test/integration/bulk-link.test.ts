import { createHash, randomBytes } from 'node:crypto';
import { BulkLink } from '../../lib/redis/bulk-link';
import { connectRedis } from '../../lib/redis/connect';
import { PeerDirectory } from '../../lib/redis/peer-directory';
import { startRedisServer } from '../../lib/stack/redis-process';
import { startTestRedis, toolchain, type TestRedis } from '../helpers/servers';

describe('bulk link (the connection tensors are copied over) on real Redis', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startTestRedis({ module: false });
  });
  afterAll(async () => {
    await redis.stop();
  });

  it('answers every reply type in order, pipelined, and streams a large value to a sink exactly', async () => {
    const client = await connectRedis(redis.endpoint);
    const big = randomBytes(3 * 1024 * 1024 + 17);
    await client.set('big', big);
    await client.set('small', 'hello\r\nworld');
    await client.set('empty', '');
    client.disconnect();
    const link = await BulkLink.open(redis.endpoint);
    try {
      const received = Buffer.alloc(big.length);
      const hash = createHash('sha256');
      let calls = 0;
      const replies = await Promise.all([
        link.send(['PING']),
        link.send(['STRLEN', 'big']),
        link.send(['GET', 'small']),
        link.send(['GET', 'missing']),
        link.send(['GET', 'empty']),
        link.send(['GET', 'big'], (chunk, offset) => {
          calls++;
          hash.update(chunk);
          chunk.copy(received, offset);
        }),
        link.send(['INCRBY', 'n', 5]),
        // A Buffer argument (written by reference), then read back.
        link.send(['SET', 'copy', big.subarray(0, 1000)]),
        link.send(['GETRANGE', 'copy', 990, 999]),
      ]);
      expect(replies.slice(0, 5)).toEqual(['PONG', big.length, Buffer.from('hello\r\nworld'), null, Buffer.alloc(0)]);
      expect(replies[5]).toBe(big.length);
      expect(calls).toBeGreaterThan(1); // it arrived over several reads
      expect(received.equals(big)).toBe(true);
      expect(hash.digest('hex')).toBe(createHash('sha256').update(big).digest('hex'));
      expect(replies.slice(6)).toEqual([5, 'OK', big.subarray(990, 1000)]);
      // An error reply fails its own command only; the link goes on.
      await expect(link.send(['INCR', 'big'])).rejects.toThrow(/not an integer/);
      await expect(link.send(['NOSUCHCOMMAND'])).rejects.toThrow(/unknown command/);
      expect(await link.send(['PING'])).toBe('PONG');
      expect(link.open).toBe(true);
    } finally {
      link.close();
    }
    await expect(link.send(['PING'])).rejects.toThrow(/connection closed/);
  });

  it('fails the link, not the process, when a receiver throws', async () => {
    const client = await connectRedis(redis.endpoint);
    await client.set('v', randomBytes(100_000));
    client.disconnect();
    const link = await BulkLink.open(redis.endpoint);
    const before = link.send(['PING']);
    const failing = link.send(['GET', 'v'], () => {
      throw new Error('no room');
    });
    const after = link.send(['PING']);
    expect(await before).toBe('PONG');
    await expect(failing).rejects.toThrow(/receiver failed: no room/);
    await expect(after).rejects.toThrow(/receiver failed/);
    expect(link.open).toBe(false);
  });

  it('refuses a wrong password and an unreachable server with a reason that carries no secret', async () => {
    const wrong = { ...redis.endpoint, password: 'not-the-password-123' };
    const err = (await BulkLink.open(wrong).catch((e: Error) => e)) as Error;
    expect(err.message).toMatch(/wrong password|invalid/);
    expect(err.message).not.toContain('not-the-password-123');
    expect(err.message).not.toContain(redis.endpoint.password as string);
    await expect(BulkLink.open({ host: '127.0.0.1', port: 1 })).rejects.toThrow(/connection refused/);
  });

  it('fails what is in flight when the server is killed, and the directory opens a new link once it is back', async () => {
    const other = await startTestRedis({ module: false });
    const directory = new PeerDirectory({ p: other.endpoint });
    try {
      const client = await connectRedis(other.endpoint);
      await client.set('big', randomBytes(8 * 1024 * 1024));
      client.disconnect();
      const link = await directory.bulkLink('p');
      expect(await directory.bulkLink('p')).toBe(link);
      // Many reads in flight; SIGKILL the server under them.
      const inFlight = Array.from({ length: 20 }, () => link.send(['GET', 'big'], () => undefined));
      other.server.child.kill('SIGKILL');
      const outcomes = await Promise.allSettled(inFlight);
      expect(outcomes.some((o) => o.status === 'rejected')).toBe(true);
      for (const o of outcomes) if (o.status === 'rejected') expect(String(o.reason)).toMatch(/connection/);
      expect(link.open).toBe(false);
      await expect(link.send(['PING'])).rejects.toThrow(/connection/);
      // Until the killed process has exited its listening socket may still accept (then close) a connection.
      const child = other.server.child;
      if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r));
      await expect(directory.bulkLink('p')).rejects.toThrow(/connection refused/);
      other.server = await startRedisServer({
        executable: toolchain().redisServer,
        port: other.endpoint.port,
        password: other.endpoint.password as string,
        dir: other.dir,
        modulePath: null,
      });
      const again = await directory.bulkLink('p');
      expect(again).not.toBe(link);
      expect(await again.send(['PING'])).toBe('PONG');
    } finally {
      await directory.close();
      await other.stop();
    }
  });
});
