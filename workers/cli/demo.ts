// `spirt demo`: up + train with the embedded defaults in <state dir>/demo, then stop the stack.
import { join } from 'node:path';
import type { Command } from 'commander';
import { loadRunConfig } from '../../lib/config/load';
import { defaultStateDir } from '../../lib/stack/paths';
import { intFlag, printStack, say, untilStopped } from './common';
import { progressDisplay, reportDone } from './progress';
import { addRunFlags, runConfigOverrides } from './run-flags';

export function registerDemo(program: Command): void {
  addRunFlags(program.command('demo').description('up + train with the embedded defaults, then stop the stack'))
    .option('--state-dir <dir>', 'state dir (default <default state dir>/demo)')
    .option('--temporal-port <port>', 'Temporal gRPC port; the UI listens on port + 1000 (default 7233)')
    .option('--redis-port-base <port>', "peer i's Redis listens on base + i (default 6400)")
    .option('--functions <n>', 'functions running at once per peer (default: shards per peer)')
    .action((options: Record<string, string | undefined>) => demo(options));
}

async function demo(options: Record<string, string | undefined>): Promise<void> {
  const config = loadRunConfig(options.config, runConfigOverrides(options));
  const stateDir = options.stateDir ?? join(defaultStateDir(), 'demo');
  say(`spirt demo: ${config.peers} peers, model ${config.model}, ${config.epochs} epochs, run ${config.run}`);
  const { startStack } = await import('../../lib/stack/stack');
  const { runTraining } = await import('../../lib/train/run-training');
  const display = progressDisplay();
  // While the live lines are drawn, stack news (a worker that died) goes above them.
  const line = (text: string) => (display ? display.line(text) : say(text));
  const stack = await startStack({
    peers: config.peers,
    stateDir,
    temporalPort: intFlag(options.temporalPort, 'temporal-port', 7233),
    redisPortBase: intFlag(options.redisPortBase, 'redis-port-base', 6400),
    functionsPerPeer: intFlag(options.functions, 'functions', config.shardsPerPeer),
    onProgress: line,
  });
  try {
    printStack(stack, stateDir);
    const outcome = await Promise.race([
      runTraining({ stack: stack.file, config, stateDir, onProgress: say, display }),
      untilStopped(stack).then((signal) => {
        throw new Error(`interrupted (${signal})`);
      }),
    ]);
    reportDone(outcome);
  } finally {
    display?.stop();
    say('stopping the stack ...');
    await stack.stop();
  }
}
