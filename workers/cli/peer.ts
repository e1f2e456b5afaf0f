// `spirt peer remove|add ID`: change a running run's active set.
import type { Command } from 'commander';
import { addTemporalOptions, say, type TemporalOptions } from './common';

type PeerOptions = TemporalOptions & { run?: string };

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
        "signal 'addPeer' to every running peer workflow of the run: they admit the peer at the next epoch boundary (its own workflow is started apart)",
      )
      .argument('<id>', 'peer id, e.g. p5')
      .option('--run <id>', 'run id (default the run started last)'),
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
      say(signalReportLine('addPeer', { peer: id }, await addPeer(session.client, run, id, session)));
    }
  });
}
