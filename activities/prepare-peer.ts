import { loadDataset, stepsPerEpoch } from '../lib/data';
import { createTrainer } from '../lib/engine';
import type { RunPlan } from '../lib/protocol/plan';
import { runKeys } from '../lib/redis/keys';
import { float32ToBuffer } from '../lib/tensor/float32';
import type { ActivityDeps } from './deps';
import { withHeartbeat } from './heartbeat';

/** The run plan's constant part (what the workflow knows); the rest is learned here from the data and model. */
export type PreparePeerInput = Omit<RunPlan, 'trainCount' | 'testCount' | 'stepsPerEpoch' | 'hasBuffers'> & {
  maxStepsPerEpoch?: number;
};

export interface PreparePeerResult {
  trainCount: number;
  testCount: number;
  stepsPerEpoch: number;
  paramCount: number;
  bufferCount: number;
  initialised: boolean;
}

/**
 * Writes the run plan, the initial parameters (from the run seed, so every peer starts from the same model)
 * and the layout manifest into the peer's Redis, unless a previous attempt completed; learns the dataset size.
 */
export function makePreparePeer(deps: ActivityDeps) {
  return async function preparePeer(input: PreparePeerInput): Promise<PreparePeerResult> {
    return withHeartbeat(() => prepare(deps, input));
  };
}

async function prepare(deps: ActivityDeps, input: PreparePeerInput): Promise<PreparePeerResult> {
  {
    const train = loadDataset(input.dataset, 'train');
    const test = loadDataset(input.dataset, 'test');
    const trainCount = Math.min(train.count, input.trainLimit ?? train.count);
    const testCount = Math.min(test.count, input.testLimit ?? test.count);
    const steps = stepsPerEpoch(trainCount, input.peers, input.shardsPerPeer, input.batchSize, input.maxStepsPerEpoch);
    const trainer = await createTrainer(input.model);
    const keys = runKeys(input.run);
    const redis = await deps.directory.connection(deps.peerId);
    const manifest = JSON.stringify({ model: input.model, params: trainer.layout, buffers: trainer.bufferLayout });
    const { maxStepsPerEpoch: _maxSteps, ...constants } = input;
    const plan: RunPlan = {
      ...constants,
      peer: deps.peerId,
      trainCount,
      testCount,
      stepsPerEpoch: steps,
      hasBuffers: trainer.bufferLayout.size > 0,
    };
    // Everything is written in one MULTI and the layout manifest marks it done, so an attempt that
    // died half-way is simply repeated (only this peer's workflow prepares this run's keys).
    const created = !(await redis.exists(keys.layout));
    if (created) {
      await redis
        .multi()
        .set(keys.plan, JSON.stringify(plan))
        .set(keys.params, float32ToBuffer(trainer.initParams(input.seed)))
        .set(keys.buffers, float32ToBuffer(trainer.initBuffers()))
        .del(keys.momentum, keys.appliedStep, keys.anchor, keys.syncedStep)
        .set(keys.layout, manifest)
        .exec();
    }
    deps.log.info({ run: input.run, peer: deps.peerId, steps, trainCount, initialised: created }, 'peer prepared');
    return {
      trainCount,
      testCount,
      stepsPerEpoch: steps,
      paramCount: trainer.layout.size,
      bufferCount: trainer.bufferLayout.size,
      initialised: created,
    };
  }
}
