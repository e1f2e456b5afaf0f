// The `spirt` command line: up, train, demo, models, model import, bench.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadRunConfig } from '../lib/config/load';
import { ConfigError } from '../lib/errors/config-error';
import { defaultStateDir } from '../lib/stack/paths';
import { readStackFile } from '../lib/stack/stack-file';
import { startStack, type Stack } from '../lib/stack/stack';
import { runTraining } from '../lib/train/run-training';

const USAGE = `usage: spirt <command> [options]

commands:
  up     --peers N [--state-dir DIR] [--temporal-port P] [--redis-port-base P] [--functions N]
         start the Temporal dev server, one redis-server and one worker per peer; Ctrl-C stops everything
  train  [--config FILE] [run flags] [--state-dir DIR]
         run training on a running stack and follow it until it ends
  demo   [run flags] [--state-dir DIR]
         up + train with the embedded defaults, then stop the stack
  models                      list the model zoo with parameter counts
  model import FILE [--out F] turn a forward ONNX model into a training graph
  bench engine|indb [--json]  run a benchmark suite

run flags (override the config file): --run ID --peers N --model NAME --epochs N --batch-size N
  --shards-per-peer N --lr X --momentum X --weight-decay X --seed N --train-limit N --test-limit N
  --max-steps-per-epoch N --sync-timeout-ms N --in-db-path auto|module|lua|client
  --aggregation mean|median|trimmed-mean|meamed --byzantine-f N
`;

const runFlagOptions = {
  config: { type: 'string' },
  run: { type: 'string' },
  peers: { type: 'string' },
  model: { type: 'string' },
  epochs: { type: 'string' },
  'batch-size': { type: 'string' },
  'shards-per-peer': { type: 'string' },
  lr: { type: 'string' },
  momentum: { type: 'string' },
  'weight-decay': { type: 'string' },
  seed: { type: 'string' },
  'train-limit': { type: 'string' },
  'test-limit': { type: 'string' },
  'max-steps-per-epoch': { type: 'string' },
  'sync-timeout-ms': { type: 'string' },
  'in-db-path': { type: 'string' },
  aggregation: { type: 'string' },
  'byzantine-f': { type: 'string' },
  'state-dir': { type: 'string' },
  'temporal-port': { type: 'string' },
  'redis-port-base': { type: 'string' },
  functions: { type: 'string' },
} as const;

const flagToField: Record<string, string> = {
  run: 'run',
  peers: 'peers',
  model: 'model',
  epochs: 'epochs',
  'batch-size': 'batchSize',
  'shards-per-peer': 'shardsPerPeer',
  lr: 'learningRate',
  momentum: 'momentum',
  'weight-decay': 'weightDecay',
  seed: 'seed',
  'train-limit': 'trainLimit',
  'test-limit': 'testLimit',
  'max-steps-per-epoch': 'maxStepsPerEpoch',
  'sync-timeout-ms': 'syncTimeoutMs',
  'in-db-path': 'inDbPath',
  aggregation: 'aggregation',
  'byzantine-f': 'byzantineF',
};
const stringFields = new Set(['run', 'model', 'inDbPath', 'aggregation']);

function configOverrides(values: Record<string, string | boolean | undefined>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [flag, field] of Object.entries(flagToField)) {
    const raw = values[flag];
    if (typeof raw !== 'string') continue;
    if (stringFields.has(field)) {
      out[field] = raw;
    } else {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n)) throw new ConfigError(`flag --${flag}: "${raw}" is not a number`);
      out[field] = n;
    }
  }
  return out;
}

function intFlag(values: Record<string, string | boolean | undefined>, flag: string, fallback: number): number {
  const raw = values[flag];
  if (typeof raw !== 'string') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new ConfigError(`flag --${flag}: "${raw}" is not a positive integer`);
  return n;
}

function say(line: string): void {
  process.stdout.write(line + '\n');
}

/** Resolves on Ctrl-C / SIGTERM (returns the signal) or when a stack component dies (throws). */
function untilStopped(stack: Stack | null): Promise<string> {
  return new Promise((resolve, reject) => {
    const onSignal = (signal: string) => resolve(signal);
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    stack?.failure.then((why) => reject(new Error(why)), reject);
  });
}

async function up(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: runFlagOptions, strict: true });
  const stateDir = values['state-dir'] ?? defaultStateDir();
  const stack = await startStack({
    peers: intFlag(values, 'peers', 4),
    stateDir,
    temporalPort: intFlag(values, 'temporal-port', 7233),
    redisPortBase: intFlag(values, 'redis-port-base', 6400),
    functionsPerPeer: intFlag(values, 'functions', 2),
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

function printStack(stack: Stack, stateDir: string): void {
  const f = stack.file;
  say(`Temporal:    ${f.temporal.address} (namespace ${f.temporal.namespace})`);
  say(`Temporal UI: ${f.temporal.uiUrl}`);
  for (const p of f.peers) say(`peer ${p.id}:     redis ${p.host}:${p.port}  task queue ${p.taskQueue}`);
  say(`in-DB ops:   ${f.moduleLoaded ? 'native module' : 'Lua scripts (module not built)'}`);
  say(`state dir:   ${stateDir}`);
}

async function train(argv: string[], stateDirDefault = defaultStateDir()): Promise<void> {
  const { values } = parseArgs({ args: argv, options: runFlagOptions, strict: true });
  const config = loadRunConfig(values.config, configOverrides(values));
  const stateDir = values['state-dir'] ?? stateDirDefault;
  const stack = readStackFile(stateDir);
  const { summary, summaryPath } = await runTraining({ stack, config, stateDir, onProgress: say });
  say(
    `done: test accuracy ${summary.testAccuracy === null ? '-' : summary.testAccuracy.toFixed(4)} after ${summary.epochs} epochs`,
  );
  say(`summary: ${summaryPath}`);
}

async function demo(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: runFlagOptions, strict: true });
  const config = loadRunConfig(values.config, configOverrides(values));
  const stateDir = values['state-dir'] ?? join(defaultStateDir(), 'demo');
  say(`spirt demo: ${config.peers} peers, model ${config.model}, ${config.epochs} epochs, run ${config.run}`);
  const stack = await startStack({
    peers: config.peers,
    stateDir,
    temporalPort: intFlag(values, 'temporal-port', 7233),
    redisPortBase: intFlag(values, 'redis-port-base', 6400),
    functionsPerPeer: intFlag(values, 'functions', config.shardsPerPeer),
    onProgress: say,
  });
  try {
    printStack(stack, stateDir);
    const outcome = await Promise.race([
      runTraining({ stack: stack.file, config, stateDir, onProgress: say }),
      untilStopped(stack).then((signal) => {
        throw new Error(`interrupted (${signal})`);
      }),
    ]);
    say(`done: test accuracy ${outcome.summary.testAccuracy?.toFixed(4) ?? '-'} after ${config.epochs} epochs`);
    say(`summary: ${outcome.summaryPath}`);
  } finally {
    say('stopping the stack ...');
    await stack.stop();
  }
}

type SubMain = (argv: string[]) => Promise<void>;

function optionalModule(path: string, exportName: string): SubMain {
  let mod: Record<string, unknown>;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = require(path) as Record<string, unknown>;
  } catch {
    throw new ConfigError(`this build has no ${path.split('/').pop()} command yet`);
  }
  const fn = mod[exportName];
  if (typeof fn !== 'function') throw new ConfigError(`this build has no ${exportName} in ${path}`);
  return fn as SubMain;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'up':
      await up(rest);
      return 0;
    case 'train':
      await train(rest);
      return 0;
    case 'demo':
      await demo(rest);
      return 0;
    case 'models':
      await optionalModule('../lib/models/cli', 'listModelsCommand')(rest);
      return 0;
    case 'model':
      if (rest[0] !== 'import') break;
      await optionalModule('../lib/models/cli', 'importModelCommand')(rest.slice(1));
      return 0;
    case 'bench': {
      const suite = rest[0];
      if (suite !== 'engine' && suite !== 'indb') break;
      await optionalModule(`../bench/${suite}`, 'main')(rest.slice(1));
      return 0;
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
  }
  process.stderr.write(`spirt: unknown command "${argv.join(' ')}"\n${USAGE}`);
  return 2;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: Error) => {
      process.stderr.write(`spirt: error: ${err.message}\n`);
      process.exit(1);
    },
  );
}
