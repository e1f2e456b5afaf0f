import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, WorkflowExecutionAlreadyStartedError, type WorkflowHandle } from '@temporalio/client';
import type { RunConfig } from '../config/schema';
import { ConfigError } from '../errors/config-error';
import { StackError } from '../errors/stack-error';
import { peerWorkflowId } from '../protocol/names';
import { epochAttribute, peerAttribute, runAttribute } from '../protocol/search-attributes';
import type { PeerTrainingStart } from '../protocol/types';
import { networkPeer, readNetworkFile, type NetworkFile } from '../peer/network-file';
import { connectRedis } from '../redis/connect';
import type { StackFile } from '../stack/stack-file';
import { connectTemporal } from './connect';
import { followRun } from './follow';
import { PlainProgressDisplay, type ProgressDisplay } from './progress-display';
import { summarize, type TrainingSummary } from './summary';

export type { TrainingSummary } from './summary';

export interface RunTrainingOptions {
  /** A local stack (spirt up); without it, the network file's peers and Temporal target. */
  stack?: StackFile;
  /** @default the network file in stateDir */
  network?: NetworkFile;
  /** @default the stack's, else the network file's */
  temporal?: { address: string; namespace: string };
  config: RunConfig;
  /** Where `runs/<run>/summary.json` goes. */
  stateDir: string;
  /** One line per progress event. */
  onProgress?: (line: string) => void;
  /**
   * Where progress goes while the run is followed (live lines on a terminal).
   * @default plain lines through onProgress, a progress line at most every 5 s
   */
  display?: ProgressDisplay;
  /** @default 1000 */
  pollMs?: number;
}

/**
 * Starts one peerTrainingWorkflow per peer on a running stack, follows progress through the
 * status query, and writes summary.json when every peer has finished.
 * @throws ConfigError when the config asks for more peers than the stack has; StackError when a peer's Redis
 * or Temporal is unreachable; Error when every peer workflow fails.
 */
export async function runTraining(
  opts: RunTrainingOptions,
): Promise<{ summary: TrainingSummary; summaryPath: string }> {
  const { stack, config } = opts;
  const say = opts.onProgress ?? (() => undefined);
  const network = opts.network ?? readNetworkFile(opts.stateDir);
  const all = stack?.peers ?? [...network.peers].sort((a, b) => a.rank - b.rank);
  const temporal = opts.temporal ?? stack?.temporal ?? network.temporal;
  const uiUrl = stack?.temporal.uiUrl;
  if (config.peers > all.length) {
    throw new ConfigError(`config field "peers": ${config.peers} peers requested but the network has ${all.length}`);
  }
  const founders = all.filter((p) => !p.standby);
  if (config.peers > founders.length) {
    throw new ConfigError(
      `config field "peers": ${config.peers} peers requested but the network has ${founders.length} (the others are standby peers that join through spirt peer add)`,
    );
  }
  const peers = founders.slice(0, config.peers);
  // Fail fast with one clear line when a peer's Redis is down (a PING through its public inbox user).
  await Promise.all(
    peers.map(async (p) => {
      const { inbox: box, redis: where } = networkPeer(network, p.id);
      const redis = await connectRedis({ ...where, ...box }, { timeoutMs: 2000 }).catch((err: Error) => {
        throw new StackError(`peer ${p.id}: ${err.message}`);
      });
      redis.disconnect();
    }),
  );
  const { client, connection } = await connectTemporal(temporal);
  try {
    const peerIds = peers.map((p) => p.id);
    for (const b of config.byzantine)
      if (!peerIds.includes(b.peer))
        throw new ConfigError(
          `config field "byzantine": peer ${b.peer} is not one of the run's peers (${peerIds.join(', ')})`,
        );
    // Each Byzantine peer is told its own attack; no peer learns the list (the summary records it).
    const { byzantine, ...shared } = config;
    const started = Date.now();
    const handles: WorkflowHandle[] = [];
    for (const peer of peers) {
      // The workflow's public start input (the same a user gives `temporal workflow start`): it validates the
      // config and builds its own state. Redis addresses and passwords stay with the workers.
      const own = byzantine.find((b) => b.peer === peer.id);
      const attack = own ? (({ peer: _peer, ...spec }) => spec)(own) : undefined;
      const input: PeerTrainingStart = { ...shared, peer: peer.id, peers: peerIds, ...(attack ? { attack } : {}) };
      const start = client.workflow.start('peerTrainingWorkflow', {
        args: [input],
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
    if (uiUrl)
      say(`Temporal UI: ${uiUrl}/namespaces/${temporal.namespace}/workflows?query=SpirtRun%3D%22${config.run}%22`);

    const ends = await followRun(
      peers.map((p, i) => ({ peerId: p.id, handle: handles[i] })),
      config.epochs,
      opts.display ?? new PlainProgressDisplay(say),
      opts.pollMs ?? 1000,
    );
    const summary = summarize({
      config,
      initialPeers: peers.map((p) => p.id),
      peers: ends,
      workflowIds: handles.map((h) => h.workflowId),
      temporalUi: uiUrl ?? `(Temporal ${temporal.address}, namespace ${temporal.namespace})`,
      totalMs: Date.now() - started,
    });
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
