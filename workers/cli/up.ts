// `spirt up`: the local stack until Ctrl-C.
import type { Command } from 'commander';
import { ConfigError } from '../../lib/errors/config-error';
import { defaultStateDir } from '../../lib/stack/paths';
import { intFlag, printStack, say, untilStopped } from './common';

interface UpOptions {
  peers?: string;
  stateDir?: string;
  temporalPort?: string;
  redisPortBase?: string;
  functions?: string;
  standby?: string;
  keySuite?: string;
  tls?: boolean;
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
    .option(
      '--standby <n>',
      'extra peers started but left out of the network, to join a running run later with spirt peer add (default 0)',
    )
    .option('--tls', 'Redis over TLS only: a local CA and one certificate per peer in <state dir>/tls (openssl)')
    .option('--key-suite <suite>', 'peer keys: modern (Ed25519, X25519) or rsa (RSA-PSS, RSA-OAEP) (default modern)')
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
    standby: intFlag(options.standby, 'standby', 0),
    keySuite: keySuite(options.keySuite),
    tls: options.tls === true,
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

function keySuite(raw: string | undefined): 'modern' | 'rsa' {
  if (raw === undefined || raw === 'modern' || raw === 'rsa') return raw ?? 'modern';
  throw new ConfigError(`--key-suite: expected modern or rsa, got "${raw}"`);
}
