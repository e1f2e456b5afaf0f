import { DataError } from '../lib/errors/data-error';
import type { RunPlan } from '../lib/protocol/plan';
import { runKeys } from '../lib/redis/keys';
import type { ActivityDeps } from './deps';

const plans = new WeakMap<ActivityDeps, Map<string, RunPlan>>();

/** The run plan from this peer's Redis, read once per worker and run. */
export async function loadPlan(deps: ActivityDeps, run: string): Promise<RunPlan> {
  let byRun = plans.get(deps);
  if (!byRun) plans.set(deps, (byRun = new Map()));
  const cached = byRun.get(run);
  if (cached) return cached;
  const text = await (await deps.directory.connection(deps.peerId)).get(runKeys(run).plan);
  if (!text) throw new DataError(`run ${run} has no plan in the Redis of peer ${deps.peerId} (not prepared?)`);
  const plan = JSON.parse(text) as RunPlan;
  byRun.set(run, plan);
  return plan;
}
