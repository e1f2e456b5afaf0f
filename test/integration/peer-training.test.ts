// Two peers train softmax regression for two epochs on a real Temporal dev server and real
// redis-server processes, crossing continueAsNew; the parameters are checked against a
// step-by-step reference computed here with the same engine.
import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Runtime, DefaultLogger, type Worker } from '@temporalio/worker';
import { PeerDirectory } from '../../lib/redis/peer-directory';
import { parseRunConfig } from '../../lib/config';
import { createTrainer } from '../../lib/engine';
import { LocalPoolInvoker } from '../../lib/invoker/local-pool';
import { peerTaskQueue, peerWorkflowId } from '../../lib/protocol/names';
import {
  activePeersAttribute,
  epochAttribute,
  peerAttribute,
  runAttribute,
} from '../../lib/protocol/search-attributes';
import type { PeerTrainingStart, TrainingResult } from '../../lib/protocol/types';
import { connectRedis } from '../../lib/redis/connect';
import { runKeys } from '../../lib/redis/keys';
import { bufferToFloat32 } from '../../lib/tensor/float32';
import { createPeerWorker } from '../../workers/peer-worker';
import { localActivityTypes } from '../helpers/history';
import { excess, referenceTraining } from '../helpers/replay';
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

  /** Ops the spirt module has run on each peer's Redis (INFO spirt counters). */
  const moduleOps = () =>
    Promise.all(
      redis.map(async (r) => {
        const client = await connectRedis(r.endpoint);
        const info = (await client.info('spirt')) as string;
        client.disconnect();
        const count = (name: string) => Number(new RegExp(`${name}:(\\d+)`).exec(info)?.[1] ?? NaN);
        return count('ops_inline') + count('ops_sliced');
      }),
    );

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

  interface Row {
    model: 'softmax' | 'lenet5' | 'mobilenet_v3_small';
    minAccuracy: number;
    learningRate: number;
    inDbPath: 'auto' | 'lua';
    localActivities: 'none' | 'all';
    yields: string;
    yieldEveryMs?: number;
  }
  const fusedSoftmax: Row = {
    model: 'softmax' as const,
    minAccuracy: 0.5,
    learningRate: 0.1,
    inDbPath: 'auto' as const,
    localActivities: 'all' as const,
    yields: 'default yields',
  };

  // softmax learns visibly in 6 steps; lenet5 (the demo default) is still on its initial plateau, so
  // only its parameters are checked; mobilenet_v3_small carries batch-norm buffers through the pipeline
  // (at lr 0.01: at 0.1 the module's float32 averaging and the replay's float64 differ by one rounding,
  // which the network amplifies beyond 1e-4 within 6 steps).
  it.each<Row>([
    {
      model: 'softmax' as const,
      minAccuracy: 0.5,
      learningRate: 0.1,
      inDbPath: 'auto' as const,
      localActivities: 'none' as const,
      yields: 'default yields',
    },
    {
      model: 'softmax' as const,
      minAccuracy: 0.5,
      learningRate: 0.1,
      inDbPath: 'lua' as const,
      localActivities: 'none' as const,
      yields: 'default yields',
    },
    {
      model: 'lenet5' as const,
      minAccuracy: 0,
      learningRate: 0.1,
      inDbPath: 'auto' as const,
      localActivities: 'none' as const,
      yields: 'default yields',
    },
    {
      model: 'mobilenet_v3_small' as const,
      minAccuracy: 0,
      learningRate: 0.01,
      inDbPath: 'auto' as const,
      localActivities: 'none' as const,
      yields: 'default yields',
    },
    // The fused step (two local activities in one workflow task) computes exactly the same model.
    fusedSoftmax,
    // Yielding to the server at every step (as with steps longer than yieldEveryMs): each step after the first
    // announces ready, the workflow yields, and a stepChain resumes it at its barrier.
    { ...fusedSoftmax, yieldEveryMs: 1, yields: 'a yield at every step' },
  ])(
    '$model ($inDbPath path, $localActivities steps, $yields): trains across continueAsNew; epoch counter, search attributes and parameters are right',
    async ({ model, minAccuracy, learningRate, inDbPath, localActivities, yieldEveryMs }) => {
      const config = parseRunConfig({
        run: `it-${randomUUID().slice(0, 8)}`,
        peers: 2,
        epochs: 2,
        batchSize: 32,
        shardsPerPeer: 2,
        model,
        trainLimit: 512,
        testLimit: 500,
        learningRate,
        inDbPath,
        momentum: 0.9,
        maxStepsPerEpoch: 3,
        syncTimeoutMs: 30000,
        localActivities,
        ...(yieldEveryMs ? { yieldEveryMs } : {}),
      });
      const run = async () => {
        const handles = await Promise.all(
          PEERS.map((peerId) => {
            // The short start input a user gives `temporal workflow start`; the workflow applies the defaults.
            const input: PeerTrainingStart = { ...config, peer: peerId, peers: PEERS };
            return env.client.workflow.start('peerTrainingWorkflow', {
              args: [input],
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
      const opsBefore = await moduleOps();
      const training = run();
      const workers = await createWorkers();
      const [{ handles, results }] = await Promise.all(workers.map((w) => w.runUntil(training)));

      // The module ran the in-DB ops unless the run forced the Lua path.
      const opsAfter = await moduleOps();
      opsAfter.forEach((ops, i) =>
        inDbPath === 'lua' ? expect(ops).toBe(opsBefore[i]) : expect(ops).toBeGreaterThan(opsBefore[i]),
      );

      for (const result of results) {
        expect(result.outcome).toBe('completed');
        expect(result.membership).toEqual([]);
        expect(result.history.map((h) => h.epoch)).toEqual([1, 2]);
        expect(Object.keys(result.history[0].phaseMs).sort()).toEqual(
          [
            'agree',
            'aggregate',
            'average',
            'barrier',
            'compute',
            'evaluate',
            'fetch',
            // Inside compute: the slowest function call and its parts.
            'functions',
            'functionEngine',
            'functionRead',
            'functionWrite',
            'probe',
            'publish',
            // Inside average (the fused step records it): reading the average out, hashing and signing it.
            ...(localActivities === 'all' ? ['sign'] : []),
            'update',
          ].sort(),
        );
        expect(result.history.every((h) => h.steps === 3)).toBe(true);
        expect(result.history[1].testAccuracy).toBeGreaterThan(minAccuracy);
      }
      // The last run is a continuation: its first execution started a different run id.
      const description = await handles[0].describe();
      expect(description.runId).not.toBe(handles[0].firstExecutionRunId);
      expect(description.typedSearchAttributes.get(epochAttribute)).toBe(2);
      expect(description.typedSearchAttributes.get(runAttribute)).toBe(config.run);
      expect(description.typedSearchAttributes.get(activePeersAttribute)).toBe(2);
      expect(description.workflowId).toBe(`spirt-${config.run}-p1`);
      if (localActivities === 'all') {
        // Steady steps after an epoch's first ran as one stepChain local activity (a marker in history).
        const types = await localActivityTypes(handles[0]);
        expect(types).toContain('stepChain');
        if (yieldEveryMs) {
          // Every step after an epoch's first yielded (a no-op activity) and was resumed by a chain: no
          // barrier or finish of its own. The last run holds epoch 2 (3 steps); its first step chains too,
          // placed by epoch 1's step time.
          const { events } = await handles[0].fetchHistory();
          const scheduled = (events ?? []).flatMap((e) =>
            e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes.activityType?.name] : [],
          );
          expect(scheduled.filter((t) => t === 'yieldToServer')).toHaveLength(2);
          expect(types).not.toContain('stepFront');
          expect(types).not.toContain('stepFinish');
          // Step 0 and step 1's front; 1's rest and 2's front; 2's rest.
          expect(types.filter((t) => t === 'stepChain')).toHaveLength(3);
          expect(types).not.toContain('awaitPeersReadyLocal');
        }
      }

      // Parameters: identical on both peers, and equal to a reference replay of the same steps.
      const keys = runKeys(config.run);
      const stored = await Promise.all(
        redis.map(async (r) => {
          const client = await connectRedis(r.endpoint);
          const [params, buffers] = await Promise.all([client.getBuffer(keys.params), client.getBuffer(keys.buffers)]);
          // A step's working tensors (shard gradients, copies of the other peer's, the aggregate) are deleted
          // by the next step: only the last step's are left; a published average, two steps later: only the
          // last two steps' are left.
          const grads = await client.keys(`spirt:${config.run}:grad:*`);
          client.disconnect();
          const working = grads.filter((k) => !k.endsWith(':avg'));
          expect(working.every((k) => k.startsWith(`spirt:${config.run}:grad:2:2:`))).toBe(true);
          expect(working.length).toBeGreaterThan(0);
          const published = grads.filter((k) => k.endsWith(':avg')).sort();
          expect(published).toEqual([keys.averagedGradient(2, 1), keys.averagedGradient(2, 2)]);
          return { params: bufferToFloat32(params as Buffer), buffers: bufferToFloat32(buffers ?? Buffer.alloc(0)) };
        }),
      );
      const expected = await referenceTraining(config);
      for (const peer of stored) {
        expect(excess(peer.params, expected.params)).toBeLessThanOrEqual(0);
        expect(excess(peer.buffers, expected.buffers)).toBeLessThanOrEqual(0);
      }
      expect(expected.buffers.length > 0).toBe(model === 'mobilenet_v3_small');
      const trainer = await createTrainer(config.model);
      const initial = trainer.initParams(config.seed);
      expect(stored[0].params.some((v, i) => Math.abs(v - initial[i]) > 1e-3)).toBe(true);
    },
  );

  /** Starts every peer's workflow with the short start input, runs the workers until all end, returns the results. */
  const trainToEnd = async (config: ReturnType<typeof parseRunConfig>): Promise<TrainingResult[]> => {
    const training = Promise.all(
      PEERS.map(async (peerId) => {
        const input: PeerTrainingStart = { ...config, peer: peerId, peers: PEERS };
        const handle = await env.client.workflow.start('peerTrainingWorkflow', {
          args: [input],
          taskQueue: peerTaskQueue(stackId, peerId),
          workflowId: peerWorkflowId(config.run, peerId),
        });
        return (await handle.result()) as TrainingResult;
      }),
    );
    const workers = await createWorkers();
    const [results] = await Promise.all(workers.map((w) => w.runUntil(training)));
    return results;
  };

  it("an epoch's last chain starts the next epoch's first calls, the next run adopts them, and the model is the replay's", async () => {
    // No evaluation before the last epoch: both boundaries prestart.
    const config = parseRunConfig({
      run: `it-${randomUUID().slice(0, 8)}`,
      peers: 2,
      epochs: 3,
      evalEvery: 3,
      batchSize: 32,
      shardsPerPeer: 2,
      model: 'softmax',
      trainLimit: 512,
      testLimit: 500,
      learningRate: 0.1,
      momentum: 0.9,
      maxStepsPerEpoch: 3,
      syncTimeoutMs: 30000,
      localActivities: 'all',
    });
    const results = await trainToEnd(config);
    for (const r of results) expect(r.outcome).toBe('completed');
    const keys = runKeys(config.run);
    const stored = await Promise.all(
      redis.map(async (r) => {
        const client = await connectRedis(r.endpoint);
        const [params, metrics] = await Promise.all([
          client.getBuffer(keys.params),
          client.xrange(keys.metricsStream, '-', '+') as Promise<[string, string[]][]>,
        ]);
        client.disconnect();
        // Steps whose metrics record adopted calls, as epoch:step=count.
        const adopted = metrics.flatMap(([, f]) => {
          const m: Record<string, string> = {};
          for (let i = 0; i + 1 < f.length; i += 2) m[f[i]] = f[i + 1];
          return m.prestarted ? [`${m.epoch}:${m.step}=${m.prestarted}`] : [];
        });
        return { params: bufferToFloat32(params as Buffer), adopted, steps: metrics.length };
      }),
    );
    const expected = await referenceTraining(config);
    for (const peer of stored) {
      // Both shards of epochs 2's and 3's first steps came from the chain that ended the epoch before.
      expect(peer.adopted).toEqual(['2:0=2', '3:0=2']);
      expect(peer.steps).toBe(9);
      expect(excess(peer.params, expected.params)).toBeLessThanOrEqual(0);
    }
  });

  it('local SGD (syncEvery 2, fused steps): each peer steps on its own model, and every epoch ends on one model', async () => {
    const config = parseRunConfig({
      run: `it-${randomUUID().slice(0, 8)}`,
      peers: 2,
      epochs: 2,
      batchSize: 32,
      shardsPerPeer: 2,
      model: 'softmax',
      trainLimit: 1024,
      testLimit: 500,
      learningRate: 0.1,
      maxStepsPerEpoch: 5,
      syncEvery: 2,
      localActivities: 'all',
    });
    const results = await trainToEnd(config);
    for (const r of results) {
      expect(r.outcome).toBe('completed');
      expect(r.history[1].testAccuracy).toBeGreaterThan(0.5);
    }
    const keys = runKeys(config.run);
    const stored = await Promise.all(
      redis.map(async (r) => {
        const client = await connectRedis(r.endpoint);
        const [params, anchor, synced, metrics] = await Promise.all([
          client.getBuffer(keys.params),
          client.getBuffer(keys.anchor),
          client.get(keys.syncedStep),
          client.xrange(keys.metricsStream, '-', '+'),
        ]);
        client.disconnect();
        return { params: params as Buffer, anchor: anchor as Buffer, synced, steps: metrics.length };
      }),
    );
    // Synchronised at steps 1, 3 and 4 (the epoch's last) of each epoch: the last at 2:4, on one model that is
    // also the new anchor. Every one of the 10 steps was applied (local or synchronised) and recorded.
    for (const peer of stored) {
      expect(peer.synced).toBe('2:4');
      expect(peer.params.equals(stored[0].params)).toBe(true);
      expect(peer.anchor.equals(peer.params)).toBe(true);
      expect(peer.steps).toBe(10);
    }
    const trainer = await createTrainer(config.model);
    const initial = trainer.initParams(config.seed);
    expect(bufferToFloat32(stored[0].params).some((v, i) => Math.abs(v - initial[i]) > 1e-3)).toBe(true);
  });
});
