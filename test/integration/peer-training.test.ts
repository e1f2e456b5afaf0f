// Two peers train softmax regression for two epochs on a real Temporal dev server and real
// redis-server processes, crossing continueAsNew; the parameters are checked against a
// step-by-step reference computed here with the same engine.
import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Runtime, DefaultLogger, type Worker } from '@temporalio/worker';
import { PeerDirectory } from '../../activities';
import { parseRunConfig } from '../../lib/config';
import { batchIndices, gatherBatch, loadDataset, shardRange, stepsPerEpoch } from '../../lib/data';
import { createTrainer } from '../../lib/engine';
import { LocalPoolInvoker } from '../../lib/invoker/local-pool';
import { peerTaskQueue, peerWorkflowId } from '../../lib/protocol/names';
import { epochAttribute, peerAttribute, runAttribute } from '../../lib/protocol/search-attributes';
import type { PeerTrainingState, TrainingResult } from '../../lib/protocol/types';
import { connectRedis } from '../../lib/redis/connect';
import { runKeys } from '../../lib/redis/keys';
import { bufferToFloat32 } from '../../lib/tensor/float32';
import { createPeerWorker } from '../../workers/peer-worker';
import { startTestRedis, startTestTemporal, type TestRedis } from '../helpers/servers';

Runtime.install({ logger: new DefaultLogger('WARN') });

const PEERS = ['p1', 'p2'];

describe('peerTrainingWorkflow end to end', () => {
  let env: TestWorkflowEnvironment;
  const redis: TestRedis[] = [];
  const invokers: LocalPoolInvoker[] = [];
  let directory: PeerDirectory;
  const stackId = `t${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    env = await startTestTemporal();
    redis.push(await startTestRedis(), await startTestRedis());
    directory = new PeerDirectory({ p1: redis[0].endpoint, p2: redis[1].endpoint });
    for (const [i] of PEERS.entries())
      invokers.push(new LocalPoolInvoker({ redis: redis[i].endpoint, concurrency: 2 }));
  });

  /** A worker runs once: each test gets fresh workers (sharing the warm function pools). */
  const createWorkers = (): Promise<Worker[]> =>
    Promise.all(
      PEERS.map((peerId, i) =>
        createPeerWorker({
          connection: env.nativeConnection,
          taskQueue: peerTaskQueue(stackId, peerId),
          peerId,
          directory,
          invoker: invokers[i],
        }),
      ),
    );

  afterAll(async () => {
    await Promise.all(invokers.map((i) => i.close()));
    await directory?.close();
    await Promise.all(redis.map((r) => r.stop()));
    await env?.teardown();
  });

  // softmax learns visibly in 6 steps; lenet5 (the demo default) is still on its initial plateau, so
  // only its parameters are checked.
  it.each([
    { model: 'softmax' as const, minAccuracy: 0.5 },
    { model: 'lenet5' as const, minAccuracy: 0 },
  ])(
    '$model: trains across continueAsNew; epoch counter, search attributes and parameters are right',
    async ({ model, minAccuracy }) => {
      const config = parseRunConfig({
        run: `it-${randomUUID().slice(0, 8)}`,
        peers: 2,
        epochs: 2,
        batchSize: 32,
        shardsPerPeer: 2,
        model,
        trainLimit: 512,
        testLimit: 500,
        learningRate: 0.1,
        momentum: 0.9,
        maxStepsPerEpoch: 3,
        syncTimeoutMs: 30000,
      });
      const peers = PEERS.map((id, rank) => ({ id, rank, redis: `127.0.0.1:${redis[rank].endpoint.port}` }));
      const run = async () => {
        const handles = await Promise.all(
          PEERS.map((peerId) => {
            const state: PeerTrainingState = {
              run: config.run,
              peerId,
              peers,
              config,
              epoch: 1,
              step: 0,
              syncCursor: '-',
              history: [],
            };
            return env.client.workflow.start('peerTrainingWorkflow', {
              args: [state],
              taskQueue: peerTaskQueue(stackId, peerId),
              workflowId: peerWorkflowId(config.run, peerId),
              typedSearchAttributes: [
                { key: runAttribute, value: config.run },
                { key: peerAttribute, value: peerId },
                { key: epochAttribute, value: 1 },
              ],
            });
          }),
        );
        const results = (await Promise.all(handles.map((h) => h.result()))) as TrainingResult[];
        return { handles, results };
      };
      const training = run();
      const workers = await createWorkers();
      const [{ handles, results }] = await Promise.all(workers.map((w) => w.runUntil(training)));

      for (const result of results) {
        expect(result.history.map((h) => h.epoch)).toEqual([1, 2]);
        expect(result.history.every((h) => h.steps === 3)).toBe(true);
        expect(result.history[1].testAccuracy).toBeGreaterThan(minAccuracy);
      }
      // The last run is a continuation: its first execution started a different run id.
      const description = await handles[0].describe();
      expect(description.runId).not.toBe(handles[0].firstExecutionRunId);
      expect(description.typedSearchAttributes.get(epochAttribute)).toBe(2);
      expect(description.typedSearchAttributes.get(runAttribute)).toBe(config.run);
      expect(description.workflowId).toBe(`spirt-${config.run}-p1`);

      // Parameters: identical on both peers, and equal to a reference replay of the same steps.
      const keys = runKeys(config.run);
      const stored = await Promise.all(
        redis.map(async (r) => {
          const client = await connectRedis(r.endpoint);
          const buf = await client.getBuffer(keys.params);
          client.disconnect();
          return bufferToFloat32(buf as Buffer);
        }),
      );
      const expected = await referenceTraining(config);
      let maxDiff = 0;
      for (let i = 0; i < expected.length; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(stored[0][i] - expected[i]), Math.abs(stored[1][i] - expected[i]));
      }
      expect(maxDiff).toBeLessThan(1e-5);
      const trainer = await createTrainer(config.model);
      const initial = trainer.initParams(config.seed);
      expect(stored[0].some((v, i) => Math.abs(v - initial[i]) > 1e-3)).toBe(true);
    },
  );
});

/** Replays the run in one process: per step, shard gradients -> per-peer mean -> mean of peers -> SGD. */
async function referenceTraining(config: ReturnType<typeof parseRunConfig>): Promise<Float32Array> {
  const trainer = await createTrainer(config.model);
  const params = trainer.initParams(config.seed);
  const velocity = new Float32Array(params.length);
  const dataset = loadDataset('mnist', 'train');
  const total = config.trainLimit as number;
  const steps = stepsPerEpoch(total, config.peers, config.shardsPerPeer, config.batchSize, config.maxStepsPerEpoch);
  const images = new Float32Array(config.batchSize * 784);
  const labels = new Uint8Array(config.batchSize);
  for (let epoch = 1; epoch <= config.epochs; epoch++) {
    for (let step = 0; step < steps; step++) {
      const peerAverages: Float32Array[] = [];
      for (let rank = 0; rank < config.peers; rank++) {
        const sum = new Float64Array(params.length);
        for (let shard = 0; shard < config.shardsPerPeer; shard++) {
          const range = shardRange(total, config.peers, rank, config.shardsPerPeer, shard);
          const indices = batchIndices(range, config.batchSize, step, { seed: config.seed, epoch, rank, shard });
          gatherBatch(dataset, indices, images, labels);
          const { grad } = await trainer.trainStep(params, new Float32Array(0), images, labels, indices.length);
          for (let i = 0; i < sum.length; i++) sum[i] += grad[i];
        }
        peerAverages.push(Float32Array.from(sum, (v) => v / config.shardsPerPeer));
      }
      const mean = new Float32Array(params.length);
      for (let i = 0; i < mean.length; i++) mean[i] = (peerAverages[0][i] + peerAverages[1][i]) / 2;
      for (let i = 0; i < params.length; i++) {
        velocity[i] = config.momentum * velocity[i] + mean[i];
        params[i] -= config.learningRate * velocity[i];
      }
    }
  }
  return params;
}
