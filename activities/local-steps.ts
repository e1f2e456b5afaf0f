// Local SGD (run config `syncEvery: H`): between synchronisations each peer applies its own averaged gradient
// to its own model; at every H-th step it publishes the change since the last synchronisation instead of a
// gradient, the peers aggregate those changes like gradients (robustly), and every peer restarts from the
// same point: the anchor (the model at the last synchronisation) minus lr x the aggregate.
import type Redis from 'ioredis';
import type { RunKeys } from '../lib/redis/keys';
import { moduleSgdOnce } from '../lib/redis/module-commands';
import { resolveTensorOpsPath, sgdUpdate, weightedSumTensors } from '../lib/redis/tensor-ops';
import type { RunPlan } from '../lib/protocol/plan';

export interface LocalSgd {
  lr: number;
  momentum: number;
  weightDecay: number;
}

/**
 * Applies this peer's own averaged gradient of (epoch, step) to its model, once (the applied-step marker),
 * first saving the model as the anchor when there is none (the first local step after a synchronisation
 * or the run's start). @returns whether it applied now
 */
export async function applyOwnGradient(
  own: Redis,
  keys: RunKeys,
  plan: RunPlan,
  epoch: number,
  step: number,
  sgd: LocalSgd,
): Promise<boolean> {
  if (appliedAtOrAfter(await own.get(keys.appliedStep), epoch, step)) return false;
  if (!(await own.exists(keys.anchor))) await own.copy(keys.params, keys.anchor);
  return applyGradientOnce(own, keys, plan, epoch, step, sgd, keys.averagedGradient(epoch, step));
}

/**
 * SGD with momentum on this peer's model with the gradient at `gradientKey`, once per step: never for a step
 * at or before the last one applied (a worker that crashed in a chain of local-activity steps re-runs them
 * on replay, and they must not apply again). @returns whether it applied now
 */
export async function applyGradientOnce(
  own: Redis,
  keys: RunKeys,
  plan: RunPlan,
  epoch: number,
  step: number,
  sgd: LocalSgd,
  gradientKey: string,
): Promise<boolean> {
  // The gradient was checked for NaN/Inf and the parameters stay finite by induction: skip the extra pass.
  const opts = {
    lr: sgd.lr,
    momentum: sgd.momentum,
    momentumKey: keys.momentum,
    weightDecay: sgd.weightDecay,
    checkFinite: false,
  };
  // With the module: the check, the update and the marker in one atomic script (lua/sgd-once.lua).
  if ((await resolveTensorOpsPath(own, plan.path)) === 'module')
    return moduleSgdOnce(own, keys.appliedStep, { epoch, step }, keys.params, gradientKey, opts);
  if (appliedAtOrAfter(await own.get(keys.appliedStep), epoch, step)) return false;
  await sgdUpdate(own, keys.params, gradientKey, opts, { path: plan.path });
  await own.set(keys.appliedStep, `${epoch}:${step}`);
  return true;
}

/**
 * Replaces this step's averaged gradient by the change since the anchor, in gradient units:
 * (anchor - params) / lr, what the peers then aggregate.
 */
export async function writeModelDelta(
  own: Redis,
  keys: RunKeys,
  plan: RunPlan,
  epoch: number,
  step: number,
  lr: number,
) {
  await weightedSumTensors(own, keys.averagedGradient(epoch, step), [keys.anchor, keys.params], [1 / lr, -1 / lr], {
    path: plan.path,
    ttlSeconds: plan.ttlSeconds,
  });
}

/**
 * The synchronisation: params = anchor - lr x aggregate, and that becomes the new anchor; once per step
 * (the synced-step marker).
 * @returns whether it applied now
 */
export async function applySync(own: Redis, keys: RunKeys, plan: RunPlan, epoch: number, step: number, lr: number) {
  if (appliedAtOrAfter(await own.get(keys.syncedStep), epoch, step)) return false;
  await weightedSumTensors(own, keys.params, [keys.anchor, keys.aggregatedGradient(epoch, step)], [1, -lr], {
    path: plan.path,
  });
  await own.multi().copy(keys.params, keys.anchor, 'REPLACE').set(keys.syncedStep, `${epoch}:${step}`).exec();
  return true;
}

/** Whether the applied-step marker (`epoch:step`) is at or after (epoch, step). */
export function appliedAtOrAfter(marker: string | null, epoch: number, step: number): boolean {
  const m = marker ? /^(\d+):(\d+)$/.exec(marker) : null;
  if (!m) return false;
  const [e, s] = [Number(m[1]), Number(m[2])];
  return e > epoch || (e === epoch && s >= step);
}
