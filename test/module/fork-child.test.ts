// The module's FORK_CHILD_IDLE load argument: the server's forked children (here the append-only file's
// rewrite) run at niceness 19 under SCHED_IDLE, read back from /proc while the child runs; the server's own
// main thread keeps its priority. Without the argument the child runs as the server does.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { SCHED_IDLE, schedOf } from '../helpers/proc';
import { buildModule, startServer, type TestServer } from './helpers';

/** Niceness and scheduling policy of a running process. */
function priority(pid: number): { nice: number; policy: number } {
  const sched = schedOf(`/proc/${pid}/stat`);
  if (!sched) throw new Error(`process ${pid} is gone`);
  return sched;
}

/** The children of `pid` (from /proc/<pid>/task/<pid>/children). */
function children(pid: number): number[] {
  const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
  return text ? text.split(/\s+/).map(Number) : [];
}

/** Starts an append-only file rewrite slowed down to about two seconds, and returns its child's priority. */
async function rewriteChildPriority(server: TestServer): Promise<{ nice: number; policy: number }> {
  const r = server.redis;
  for (let i = 0; i < 10; i++) await r.set(`k${i}`, 'v');
  await r.config('SET', 'rdb-key-save-delay', '200000'); // microseconds per key written by the child
  await r.bgrewriteaof();
  const pid = server.proc.child.pid!;
  const deadline = Date.now() + 5_000;
  for (;;) {
    const [child] = children(pid);
    if (child) return priority(child);
    if (Date.now() > deadline) throw new Error('no rewrite child appeared');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

// Needs /proc's children lists (Linux); elsewhere the argument is still accepted and does nothing to check here.
const onLinux = existsSync('/proc/self/task') && readdirSync('/proc/self/task').length > 0 ? describe : describe.skip;

onLinux('FORK_CHILD_IDLE', () => {
  let server: TestServer | null = null;
  afterEach(async () => {
    if (server) {
      await server.redis.config('SET', 'rdb-key-save-delay', '0').catch(() => undefined);
      await server.stop();
    }
    server = null;
  });

  test('the rewrite child runs at niceness 19 under SCHED_IDLE, the server as before', async () => {
    server = await startServer({ modulePath: buildModule(), moduleArgs: ['FORK_CHILD_IDLE'] });
    expect(await rewriteChildPriority(server)).toEqual({ nice: 19, policy: SCHED_IDLE });
    expect(priority(server.proc.child.pid!).policy).toBe(0);
  });

  test('without it the child runs as the server does', async () => {
    server = await startServer({ modulePath: buildModule() });
    const parent = priority(server.proc.child.pid!);
    expect(await rewriteChildPriority(server)).toEqual(parent);
  });

  test('an unknown load argument is refused with the arguments it takes', async () => {
    await expect(startServer({ modulePath: buildModule(), moduleArgs: ['FORK_CHILD_BUSY'] })).rejects.toThrow();
  });
});
