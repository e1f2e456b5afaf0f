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
    .option(
      '--network-file <file>',
      'peers on separate hosts (spirt peer start): their ids, task queues and Temporal target from this network file instead of a local stack; the summary goes to <state dir>/runs',
    )
    .option('--temporal-address <host:port>', "with --network-file: Temporal frontend (default: the file's)")
    .option('--namespace <ns>', "with --network-file: Temporal namespace (default: the file's)")
    .action((options: Record<string, string | undefined>) => train(options));
}

async function train(options: Record<string, string | undefined>): Promise<void> {
  const config = loadRunConfig(options.config, runConfigOverrides(options));
  const stateDir = options.stateDir ?? defaultStateDir();
  const { readStackFile } = await import('../../lib/stack/stack-file');
  const { readNetworkFileAt } = await import('../../lib/peer/network-file');
  const { runTraining } = await import('../../lib/train/run-training');
  const network = options.networkFile ? readNetworkFileAt(options.networkFile) : undefined;
  const stack = network ? undefined : readStackFile(stateDir);
  const temporal =
    network && options.temporalAddress
      ? { address: options.temporalAddress, namespace: options.namespace ?? network.temporal.namespace }
      : network && options.namespace
        ? { ...network.temporal, namespace: options.namespace }
        : undefined;
  const display = progressDisplay();
  const onInterrupt = () => {
    display?.stop();
    say(`stopped following; run ${config.run} goes on (follow it again: spirt train --run ${config.run})`);
    process.exit(130);
  };
  process.once('SIGINT', onInterrupt);
  try {
    const outcome = await runTraining({
      ...(stack ? { stack } : {}),
      ...(network ? { network } : {}),
      ...(temporal ? { temporal } : {}),
      config,
      stateDir,
      onProgress: say,
      display,
    });
    reportDone(outcome);
  } finally {
    process.off('SIGINT', onInterrupt);
  }
}
