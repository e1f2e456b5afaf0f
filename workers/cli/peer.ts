// `spirt peer remove|add ID`: change a running run's active set.
import type { Command } from 'commander';
import { ConfigError } from '../../lib/errors/config-error';
import { addTemporalOptions, say, type TemporalOptions } from './common';

type PeerOptions = TemporalOptions & { run?: string; taskQueue?: string };

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
        "start the peer's own workflow with join:true (it waits to be admitted), then signal 'addPeer' to every running peer workflow of the run: they admit it at the next epoch boundary with the current model",
      )
      .argument('<id>', 'peer id of the run, e.g. p2 (a removed peer coming back)')
      .option('--run <id>', 'run id (default the run started last)')
      .option('--task-queue <name>', "the peer worker's task queue (default: the stack's)"),
  ).action((id: string, options: PeerOptions) => signalPeer('add', id, options));
}

async function signalPeer(change: 'remove' | 'add', id: string, options: PeerOptions): Promise<void> {
  const { resolveRun, withTemporal } = await import('./temporal-session');
  const { addPeer, removePeer } = await import('../../lib/train/control');
  const { signalReportLine } = await import('../../lib/train/status-lines');
  await withTemporal(options, async (session) => {
    const run = await resolveRun(session, options.run);
    if (change === 'remove') {
      const report = await removePeer(session.client, run, id, session);
      say(signalReportLine('removePeer', { peer: id, reason: 'removed by operator' }, report));
    } else {
      const { startJoiningPeer } = await import('../../lib/train/control');
      const taskQueue = options.taskQueue ?? session.taskQueues[id];
      if (!taskQueue) throw new ConfigError(`peer ${id}: no task queue known; pass --task-queue`);
      say(
        `started ${await startJoiningPeer(session.client, run, id, taskQueue, session)} (join: waits to be admitted)`,
      );
      say(signalReportLine('addPeer', { peer: id }, await addPeer(session.client, run, id, session)));
    }
  });
}
