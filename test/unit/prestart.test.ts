import { PrestartedCalls } from '../../activities/prestart';
import type { ComputeGradientEvent, ComputeGradientResult } from '../../lib/protocol/functions';

const call = (shard: number, extra: Partial<ComputeGradientEvent> = {}): ComputeGradientEvent => ({
  run: 'r',
  epoch: 2,
  step: 0,
  shard,
  ...extra,
});
const result = (loss: number): ComputeGradientResult => ({
  loss,
  count: 32,
  gradientKey: `g${loss}`,
  timings: { readMs: 1, computeMs: 2, writeMs: 1, totalMs: 4 },
});

/** A compute whose calls finish when the test says. */
function controlled() {
  const pending = new Map<number, { resolve: (r: ComputeGradientResult) => void; reject: (e: Error) => void }>();
  const compute = (c: ComputeGradientEvent) =>
    new Promise<ComputeGradientResult>((resolve, reject) => pending.set(c.shard, { resolve, reject }));
  return { compute, pending };
}

describe('prestarted function calls', () => {
  it('a call asked for as it was started is adopted once, with its result', async () => {
    const calls = new PrestartedCalls();
    const { compute, pending } = controlled();
    calls.start([call(0), call(1)], compute);
    expect(calls.size).toBe(2);
    const adopted = calls.adopt(call(1));
    pending.get(1)!.resolve(result(1));
    await expect(adopted).resolves.toEqual(result(1));
    await expect(calls.adopt(call(1))).resolves.toBeNull(); // taken
    expect(calls.size).toBe(1);
  });

  it('a call not started, of another epoch, or whose start failed is not adopted', async () => {
    const calls = new PrestartedCalls();
    const { compute, pending } = controlled();
    calls.start([call(0)], compute);
    await expect(calls.adopt(call(5))).resolves.toBeNull();
    await expect(calls.adopt(call(0, { epoch: 3 }))).resolves.toBeNull();
    const failed = calls.adopt(call(0));
    pending.get(0)!.reject(new Error('function crashed'));
    await expect(failed).resolves.toBeNull();
  });

  it('a call for the same gradient key with another batch waits for the started one to end first', async () => {
    const calls = new PrestartedCalls();
    const { compute, pending } = controlled();
    calls.start([call(0)], compute);
    let settled = false;
    const other = calls.adopt(call(0, { batch: { rank: 1, shard: 0, epoch: 2, step: 0 } })).then((r) => {
      settled = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(settled).toBe(false); // its late write could overwrite the gradient the front computes
    pending.get(0)!.resolve(result(0));
    await expect(other).resolves.toBeNull();
  });

  it('a new start forgets the calls never adopted', async () => {
    const calls = new PrestartedCalls();
    calls.start([call(0), call(1)], async () => result(0));
    calls.start([call(0, { epoch: 3 })], async () => result(3));
    expect(calls.size).toBe(1);
    await expect(calls.adopt(call(0))).resolves.toBeNull();
    await expect(calls.adopt(call(0, { epoch: 3 }))).resolves.toEqual(result(3));
  });
});
