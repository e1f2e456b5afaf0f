// `spirt stop`: every peer finishes its current step, evaluates and ends the run cleanly.
import type { Command } from 'commander';
import { addTemporalOptions, say, type TemporalOptions } from './common';

type StopOptions = TemporalOptions & { run?: string };

export function registerStop(program: Command): void {
  addTemporalOptions(
    program
      .command('stop')
      .description("stop a run: signal 'stop' to every running peer workflow (they finish the step, evaluate, end)")
      .option('--run <id>', 'run id (default the run started last)'),
  ).action((options: StopOptions) => stop(options));
}

async function stop(options: StopOptions): Promise<void> {
  const { resolveRun, withTemporal } = await import('./temporal-session');
  const { stopRun } = await import('../../lib/train/control');
  const { signalReportLine } = await import('../../lib/train/status-lines');
  await withTemporal(options, async (session) => {
    const run = await resolveRun(session, options.run);
    say(signalReportLine('stop', { reason: 'operator' }, await stopRun(session.client, run, session)));
  });
}
