// `spirt train`: one run on a running stack, followed until it ends.
import type { Command } from 'commander';
import { loadRunConfig } from '../../lib/config/load';
import { defaultStateDir } from '../../lib/stack/paths';
import { progressDisplay, reportDone } from './progress';
import { say } from './common';
import { addRunFlags, runConfigOverrides } from './run-flags';

export function registerTrain(program: Command): void {
  addRunFlags(
    program
      .command('train')
      .description(
        'run training on a running stack and follow it until it ends (Ctrl-C stops following, not training)',
      ),
  )
    .option('--state-dir <dir>', 'state dir of the running stack (default $SPIRT_STATE_DIR or ~/.local/state/spirt)')
    .action((options: Record<string, string | undefined>) => train(options));
}

async function train(options: Record<string, string | undefined>): Promise<void> {
  const config = loadRunConfig(options.config, runConfigOverrides(options));
  const stateDir = options.stateDir ?? defaultStateDir();
  const { readStackFile } = await import('../../lib/stack/stack-file');
  const { runTraining } = await import('../../lib/train/run-training');
  const stack = readStackFile(stateDir);
  const display = progressDisplay();
  const onInterrupt = () => {
    display?.stop();
    say(`stopped following; run ${config.run} goes on (follow it again: spirt train --run ${config.run})`);
    process.exit(130);
  };
  process.once('SIGINT', onInterrupt);
  try {
    const outcome = await runTraining({ stack, config, stateDir, onProgress: say, display });
    reportDone(outcome);
  } finally {
    process.off('SIGINT', onInterrupt);
  }
}
