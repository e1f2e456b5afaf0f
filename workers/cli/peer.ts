// `spirt peer remove|add ID`: change a running run's active set.
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../../lib/errors/config-error';
import { addTemporalOptions, say, type TemporalOptions } from './common';

type PeerOptions = TemporalOptions & { run?: string; taskQueue?: string; enrolment?: string; network?: string };

export function registerPeer(program: Command): void {
  const peer = program.command('peer').description('remove a peer from a running run, or admit one');
  addTemporalOptions(
    peer
      .command('remove')
      .description(
        "signal 'removePeer' to every running peer workflow of the run (the removed one too): it leaves the active set at the next agreement",
      )
      .argument('<id>', 'peer id, e.g. p2')
      .option('--run <id>', 'run id (default the run started last)'),
  ).action((id: string, options: PeerOptions) => signalPeer('remove', id, options));
  addTemporalOptions(
    peer
      .command('add')
      .description(
        "join a peer to a running run: start its workflow with join:true (it waits to be admitted), run the signed join handshake with every active peer (workflow joinHandshakeWorkflow on the peer's task queue), which then signals 'addPeer' to their workflows: they admit it at the next epoch boundary with the current model",
      )
      .argument('<id>', 'peer id: a removed peer coming back, or a new peer with an enrolment token')
      .option('--run <id>', 'run id (default the run started last)')
      .option(
        '--enrolment <token>',
        "the peer's enrolment token (from spirt admin enrol), or @FILE (default: the network file's)",
      )
      .option('--network <name>', "network name (default: the stack's network file)")
      .option('--task-queue <name>', "the peer worker's task queue (default: the stack's)"),
  ).action((id: string, options: PeerOptions) => signalPeer('add', id, options));
}

async function signalPeer(change: 'remove' | 'add', id: string, options: PeerOptions): Promise<void> {
  const { resolveRun, withTemporal } = await import('./temporal-session');
  const { removePeer } = await import('../../lib/train/control');
  const { signalReportLine } = await import('../../lib/train/status-lines');
  await withTemporal(options, async (session) => {
    const run = await resolveRun(session, options.run);
    if (change === 'remove') {
      const report = await removePeer(session.client, run, id, session);
      say(signalReportLine('removePeer', { peer: id, reason: 'removed by operator' }, report));
    } else {
      const { joinRun } = await import('../../lib/train/join');
      const taskQueue = options.taskQueue ?? session.taskQueues[id];
      if (!taskQueue) throw new ConfigError(`peer ${id}: no task queue known; pass --task-queue`);
      const network = options.network ?? (await stackNetwork(options));
      const enrolment = options.enrolment?.startsWith('@')
        ? readFileSync(options.enrolment.slice(1), 'utf8').trim()
        : options.enrolment;
      const outcome = await joinRun(session.client, run, id, {
        ...session,
        network,
        taskQueue,
        ...(enrolment ? { enrolment } : {}),
      });
      say(
        `${id} joined network ${network} in ${outcome.handshakeMs} ms: trusted by ${outcome.handshake.trusted.join(', ')}; ${outcome.workflowId} waits to be admitted at the next epoch boundary`,
      );
    }
  });
}

async function stackNetwork(options: PeerOptions): Promise<string> {
  const { readNetworkFile } = await import('../../lib/peer/network-file');
  const { defaultStateDir } = await import('../../lib/stack/paths');
  return readNetworkFile(options.stateDir ?? defaultStateDir()).network;
}
