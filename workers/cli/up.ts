// `spirt up`: the local stack until Ctrl-C.
import type { Command } from 'commander';
import { defaultStateDir } from '../../lib/stack/paths';
import { intFlag, printStack, say, untilStopped } from './common';

interface UpOptions {
  peers?: string;
  stateDir?: string;
  temporalPort?: string;
  redisPortBase?: string;
  functions?: string;
}

export function registerUp(program: Command): void {
  program
    .command('up')
    .description('start the Temporal dev server, one redis-server and one worker per peer; Ctrl-C stops everything')
    .option('--peers <n>', 'number of peers (default 4)')
    .option(
      '--state-dir <dir>',
      'Temporal database, Redis data, logs, run outputs (default $SPIRT_STATE_DIR or ~/.local/state/spirt)',
    )
    .option('--temporal-port <port>', 'Temporal gRPC port; the UI listens on port + 1000 (default 7233)')
    .option('--redis-port-base <port>', "peer i's Redis listens on base + i (default 6400)")
    .option('--functions <n>', 'functions running at once per peer (default 2)')
    .action((options: UpOptions) => up(options));
}

async function up(options: UpOptions): Promise<void> {
  const { startStack } = await import('../../lib/stack/stack');
  const stateDir = options.stateDir ?? defaultStateDir();
  const stack = await startStack({
    peers: intFlag(options.peers, 'peers', 4),
    stateDir,
    temporalPort: intFlag(options.temporalPort, 'temporal-port', 7233),
    redisPortBase: intFlag(options.redisPortBase, 'redis-port-base', 6400),
    functionsPerPeer: intFlag(options.functions, 'functions', 2),
    onProgress: say,
  });
  printStack(stack, stateDir);
  say('stack is up; press Ctrl-C to stop everything');
  try {
    await untilStopped(stack);
  } finally {
    say('stopping the stack ...');
    await stack.stop();
    say('stopped');
  }
}
