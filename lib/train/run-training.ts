import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  Client,
  Connection,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  type WorkflowHandle,
} from '@temporalio/client';
import type { RunConfig } from '../config/schema';
import { ConfigError } from '../errors/config-error';
import { StackError } from '../errors/stack-error';
import { peerWorkflowId } from '../protocol/names';
import { epochAttribute, peerAttribute, runAttribute } from '../protocol/search-attributes';
import type { EpochRecord, PeerStatus, PeerTrainingState, TrainingResult } from '../protocol/types';
import { connectRedis } from '../redis/connect';
import type { StackFile } from '../stack/stack-file';

export interface TrainingSummary {
  run: string;
  model: string;
  peers: number;
  epochs: number;
  batchSize: number;
  shardsPerPeer: number;
  learningRate: number;
  testAccuracy: number | null;
  testLoss: number | null;
  /** Wall time of each epoch (slowest peer). */
  epochMs: number[];
  totalMs: number;
  perEpoch: {
    epoch: number;
    trainLoss: number;
    testAccuracy: number | null;
    testLoss: number | null;
    epochMs: number;
  }[];
  workflowIds: string[];
  temporalUi: string;
}

export interface RunTrainingOptions {
  stack: StackFile;
  config: RunConfig;
  /** Where `runs/<run>/summary.json` goes. */
  stateDir: string;
  /** One line per progress event. */
  onProgress?: (line: string) => void;
  /** @default 1000 */
  pollMs?: number;
}

/**
 * Starts one peerTrainingWorkflow per peer on a running stack, follows progress through the
 * status query, and writes summary.json when every peer has finished.
 * @throws ConfigError when the config asks for more peers than the stack has; StackError when a peer's Redis
 * or Temporal is unreachable; Error when a workflow fails.
 */
export async function runTraining(
  opts: RunTrainingOptions,
): Promise<{ summary: TrainingSummary; summaryPath: string }> {
  const { stack, config } = opts;
  const say = opts.onProgress ?? (() => undefined);
  if (config.peers > stack.peers.length) {
    throw new ConfigError(
      `config field "peers": ${config.peers} peers requested but the stack runs ${stack.peers.length}`,
    );
  }
  const peers = stack.peers.slice(0, config.peers);
  // Fail fast with one clear line when a peer's Redis is down.
  await Promise.all(
    peers.map(async (p) => {
      const redis = await connectRedis({ host: p.host, port: p.port, password: p.password }, { timeoutMs: 2000 }).catch(
        (err: Error) => {
          throw new StackError(`peer ${p.id}: ${err.message}`);
        },
      );
      redis.disconnect();
    }),
  );
  const connection = await Connection.connect({ address: stack.temporal.address, connectTimeout: 3000 }).catch(
    (err: Error) => {
      throw new StackError(`cannot reach Temporal at ${stack.temporal.address}: ${err.message}`);
    },
  );
  try {
    const client = new Client({ connection, namespace: stack.temporal.namespace });
    const peerRefs = peers.map((p) => ({ id: p.id, rank: p.rank, redis: `${p.host}:${p.port}` }));
    const started = Date.now();
    const handles: WorkflowHandle[] = [];
    for (const peer of peers) {
      const state: PeerTrainingState = {
        run: config.run,
        peerId: peer.id,
        peers: peerRefs,
        config,
        epoch: 1,
        step: 0,
        syncCursor: '-',
        history: [],
      };
      const start = client.workflow.start('peerTrainingWorkflow', {
        args: [state],
        taskQueue: peer.taskQueue,
        workflowId: peerWorkflowId(config.run, peer.id),
        typedSearchAttributes: [
          { key: runAttribute, value: config.run },
          { key: peerAttribute, value: peer.id },
          { key: epochAttribute, value: 1 },
        ],
        memo: { model: config.model, peers: config.peers, epochs: config.epochs },
        // A run id names one training run: a finished run is never started again by accident.
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
      });
      const handle = await start.catch((err: unknown) => attachToRunning(client, err, config.run, peer.id));
      handles.push(handle);
    }
    say(`run ${config.run}: started ${handles.length} peer workflows (${handles.map((h) => h.workflowId).join(', ')})`);
    say(
      `Temporal UI: ${stack.temporal.uiUrl}/namespaces/${stack.temporal.namespace}/workflows?query=SpirtRun%3D%22${config.run}%22`,
    );

    const results = await followProgress(handles, config, say, opts.pollMs ?? 1000);
    const summary = summarize(config, results, handles, stack, Date.now() - started);
    const runDir = join(opts.stateDir, 'runs', config.run);
    mkdirSync(runDir, { recursive: true });
    const summaryPath = join(runDir, 'summary.json');
    writeFileSync(summaryPath, JSON.stringify(summary, null, 2) + '\n');
    return { summary, summaryPath };
  } finally {
    await connection.close();
  }
}

/**
 * `spirt train` interrupted and started again with the same run id follows the running workflows;
 * a run id that already finished is refused.
 */
async function attachToRunning(client: Client, err: unknown, run: string, peerId: string): Promise<WorkflowHandle> {
  if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  const handle = client.workflow.getHandle(peerWorkflowId(run, peerId));
  const { status } = await handle.describe();
  if (status.name !== 'RUNNING') {
    throw new ConfigError(`run ${run} already exists (${status.name.toLowerCase()}); choose another --run`);
  }
  return handle;
}

async function followProgress(
  handles: WorkflowHandle[],
  config: RunConfig,
  say: (line: string) => void,
  pollMs: number,
): Promise<TrainingResult[]> {
  const reported = new Set<number>();
  let lastStepLine = 0;
  let settled = false;
  const results = Promise.all(
    handles.map((h) =>
      h.result().catch((err: unknown) => {
        const cause = err instanceof WorkflowFailedError ? (err.cause?.message ?? err.message) : String(err);
        throw new Error(`peer workflow ${h.workflowId} failed: ${cause}`);
      }),
    ),
  ).finally(() => (settled = true));
  results.catch(() => undefined);
  while (!settled) {
    await Promise.race([results.catch(() => undefined), new Promise((r) => setTimeout(r, pollMs))]);
    if (settled) break;
    const statuses = (await Promise.all(handles.map((h) => h.query<PeerStatus>('status').catch(() => null)))).filter(
      (s): s is PeerStatus => s !== null,
    );
    if (statuses.length === 0) continue;
    reportEpochs(
      statuses.map((s) => s.history),
      config,
      reported,
      say,
    );
    if (Date.now() - lastStepLine > 5000) {
      lastStepLine = Date.now();
      const slowest = statuses.reduce((a, b) => (a.epoch * 1e6 + a.step <= b.epoch * 1e6 + b.step ? a : b));
      if (slowest.stepsPerEpoch > 0) {
        say(
          `  epoch ${slowest.epoch}/${config.epochs} step ${slowest.step + 1}/${slowest.stepsPerEpoch} (slowest peer ${slowest.peerId}, ${slowest.phase}) loss ${fmt(slowest.lastLoss)}`,
        );
      }
    }
  }
  const final = await results;
  reportEpochs(
    final.map((r) => r.history),
    config,
    reported,
    say,
  );
  return final;
}

function reportEpochs(
  histories: EpochRecord[][],
  config: RunConfig,
  reported: Set<number>,
  say: (line: string) => void,
) {
  for (let epoch = 1; epoch <= config.epochs; epoch++) {
    if (reported.has(epoch)) continue;
    const records = histories.map((h) => h.find((r) => r.epoch === epoch));
    if (records.some((r) => !r) || records.length < histories.length) return;
    reported.add(epoch);
    const rs = records as EpochRecord[];
    const loss = rs.reduce((a, r) => a + r.trainLoss, 0) / rs.length;
    const acc = rs[0].testAccuracy;
    const ms = Math.max(...rs.map((r) => r.epochMs));
    say(
      `epoch ${epoch}/${config.epochs}  train loss ${fmt(loss)}  test accuracy ${acc === null ? '-' : acc.toFixed(4)}  ${(ms / 1000).toFixed(1)} s`,
    );
  }
}

function fmt(x: number | null): string {
  return x === null || !Number.isFinite(x) ? '-' : x.toFixed(4);
}

function summarize(
  config: RunConfig,
  results: TrainingResult[],
  handles: WorkflowHandle[],
  stack: StackFile,
  totalMs: number,
): TrainingSummary {
  const perEpoch = Array.from({ length: config.epochs }, (_, i) => {
    const rs = results.map((r) => r.history[i]).filter((r): r is EpochRecord => !!r);
    const accs = rs.map((r) => r.testAccuracy).filter((a): a is number => a !== null);
    const losses = rs.map((r) => r.testLoss).filter((a): a is number => a !== null);
    return {
      epoch: i + 1,
      trainLoss: rs.reduce((a, r) => a + r.trainLoss, 0) / Math.max(1, rs.length),
      testAccuracy: accs.length ? accs.reduce((a, b) => a + b, 0) / accs.length : null,
      testLoss: losses.length ? losses.reduce((a, b) => a + b, 0) / losses.length : null,
      epochMs: rs.length ? Math.max(...rs.map((r) => r.epochMs)) : 0,
    };
  });
  const last = perEpoch[perEpoch.length - 1];
  return {
    run: config.run,
    model: config.model,
    peers: config.peers,
    epochs: config.epochs,
    batchSize: config.batchSize,
    shardsPerPeer: config.shardsPerPeer,
    learningRate: config.learningRate,
    testAccuracy: last?.testAccuracy ?? null,
    testLoss: last?.testLoss ?? null,
    epochMs: perEpoch.map((e) => e.epochMs),
    totalMs,
    perEpoch,
    workflowIds: handles.map((h) => h.workflowId),
    temporalUi: stack.temporal.uiUrl,
  };
}
