// The next epoch's first function calls, started by the step chain as soon as an epoch's last update is
// applied (their model is the one the next epoch starts from), and adopted by the next run's first front.
// The epoch boundary (the workflow's record, continueAsNew, the new run's first workflow task) then overlaps
// them instead of delaying every peer's first step. Worker memory only: a worker that restarts has none, and
// the next front calls the functions as usual.
import type { ComputeGradientEvent, ComputeGradientResult } from '../lib/protocol/functions';

interface Started {
  /** The call as started, to compare with the one the front asks for. */
  call: string;
  result: Promise<ComputeGradientResult>;
}

/** A call's gradient key: (run, epoch, step, shard). Two calls of one slot write the same key. */
function slot(c: ComputeGradientEvent): string {
  return JSON.stringify([c.run, c.epoch, c.step, c.shard]);
}

function describe(c: ComputeGradientEvent): string {
  return JSON.stringify([c.run, c.epoch, c.step, c.shard, c.batch ?? null]);
}

export class PrestartedCalls {
  private readonly started = new Map<string, Started>();

  /** Starts `calls` now (each through `compute`, with its retries); any earlier calls not adopted are forgotten. */
  start(calls: ComputeGradientEvent[], compute: (call: ComputeGradientEvent) => Promise<ComputeGradientResult>): void {
    this.started.clear();
    for (const call of calls) {
      const result = compute(call);
      result.catch(() => undefined); // a failure is the adopting front's to handle (it calls again)
      this.started.set(slot(call), { call: describe(call), result });
    }
  }

  /**
   * The result of `call` if it was started as it is asked for now, or null: the front calls the function
   * itself. A call started for the same gradient key with other inputs (the batch changed) is waited for
   * first, so that its late write cannot overwrite the gradient the front computes. A started call that
   * failed is null too.
   */
  async adopt(call: ComputeGradientEvent): Promise<ComputeGradientResult | null> {
    const key = slot(call);
    const entry = this.started.get(key);
    if (!entry) return null;
    this.started.delete(key);
    const result = await entry.result.catch(() => null);
    return entry.call === describe(call) ? result : null;
  }

  /** Calls started and not adopted yet. */
  get size(): number {
    return this.started.size;
  }
}
