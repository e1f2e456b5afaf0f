// `spirt status`: every peer of a run, from the status query (running) or the workflow result (closed).
import type { Command } from 'commander';
import { addTemporalOptions, say, type TemporalOptions } from './common';

interface StatusOptions extends TemporalOptions {
  run?: string;
  json?: boolean;
}

export function registerStatus(program: Command): void {
  addTemporalOptions(
    program
      .command('status')
      .description('epoch, step, phase, active and suspected peers, last loss and accuracy of every peer of a run')
      .option('--run <id>', 'run id (default the run started last)')
      .option('--json', 'the whole status as one JSON object'),
  ).action((options: StatusOptions) => status(options));
}

async function status(options: StatusOptions): Promise<void> {
  const { resolveRun, withTemporal } = await import('./temporal-session');
  const { runStatus } = await import('../../lib/train/control');
  const { runStatusLines } = await import('../../lib/train/status-lines');
  await withTemporal(options, async (session) => {
    const run = await resolveRun(session, options.run);
    const result = await runStatus(session.client, run, { knownPeers: session.knownPeers });
    if (options.json) {
      say(JSON.stringify(result));
      return;
    }
    say(`run ${run}  (Temporal ${session.target.address}, namespace ${session.target.namespace})`);
    for (const line of runStatusLines(result)) say(line);
  });
}
