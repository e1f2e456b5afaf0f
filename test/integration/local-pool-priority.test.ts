// The local pool's function threads lower their own priority (lambdas/thread-entry.ts): niceness, and with
// `idle` the SCHED_IDLE policy, on the function threads only, read back from /proc as the kernel sees them.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { LocalPoolInvoker } from '../../lib/invoker/local-pool';
import type { FunctionName } from '../../lib/protocol/functions';
import { SCHED_IDLE, schedOf } from '../helpers/proc';

/** This process's threads: niceness and scheduling policy. */
function threads(): { tid: number; nice: number; policy: number }[] {
  return readdirSync(`/proc/${process.pid}/task`).flatMap((tid) => {
    const sched = schedOf(`/proc/${process.pid}/task/${tid}/stat`);
    return sched ? [{ tid: Number(tid), ...sched }] : [];
  });
}

const linux = existsSync('/proc/thread-self') && spawnSync('chrt', ['--version']).status === 0;
// Elsewhere (no /proc, no util-linux chrt) the pool runs at the worker's priority by design: nothing to check.
const onLinux = linux ? describe : describe.skip;

onLinux('local pool: the function threads lower their own priority', () => {
  const pools: LocalPoolInvoker[] = [];
  afterEach(async () => {
    await Promise.all(pools.splice(0).map((p) => p.close()));
  });

  /** Starts a pool of two threads and waits until both have run a request (an unknown function: refused). */
  async function started(opts: { nice?: number; idle?: boolean }) {
    const pool = new LocalPoolInvoker({ redis: { host: '127.0.0.1', port: 1 }, concurrency: 2, ...opts });
    pools.push(pool);
    const before = new Set(threads().map((t) => t.tid));
    const call = () => pool.invoke('no-such-function' as FunctionName, {} as never).catch((e: Error) => e.message);
    await expect(Promise.all([call(), call()])).resolves.toEqual([
      expect.stringContaining('unknown function'),
      expect.stringContaining('unknown function'),
    ]);
    return { before };
  }

  test('idle: niceness 19 and SCHED_IDLE on the function threads, the rest of the process untouched', async () => {
    await started({ nice: 19, idle: true });
    const lowered = threads().filter((t) => t.nice === 19);
    expect(lowered.length).toBeGreaterThanOrEqual(2);
    expect(lowered.every((t) => t.policy === SCHED_IDLE)).toBe(true);
    const main = threads().find((t) => t.tid === process.pid);
    expect(main?.policy).toBe(0);
    expect(main?.nice).toBeLessThan(19);
  });

  test('without idle: niceness only', async () => {
    const { before } = await started({ nice: 19, idle: false });
    const lowered = threads().filter((t) => t.nice === 19 && !before.has(t.tid));
    expect(lowered.length).toBeGreaterThanOrEqual(2);
    expect(lowered.every((t) => t.policy === 0)).toBe(true);
  });
});
