// Run flags of `spirt train` / `spirt demo`: each maps to one run config field (kebab-case -> camelCase, except
// --lr). Values are only turned into numbers here; loadRunConfig validates them and names a bad field.
import type { Command } from 'commander';
import { ConfigError } from '../../lib/errors/config-error';

export interface RunFlag {
  /** Long flag name without the dashes. */
  flag: string;
  /** Run config field it sets. */
  field: string;
  kind: 'string' | 'number';
  help: string;
  /** Placeholder in the usage: `--model <name>`. */
  value: string;
}

/** Flags whose field is not their camelCase form. */
const FIELD_ALIASES: Record<string, string> = { lr: 'learningRate' };

/** `probe-interval-ms` -> `probeIntervalMs` (the same rule commander uses for option attributes). */
export function camelCase(flag: string): string {
  return flag.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

export function fieldOf(flag: string): string {
  return FIELD_ALIASES[flag] ?? camelCase(flag);
}

const flag = (
  name: string,
  kind: RunFlag['kind'],
  help: string,
  value = kind === 'number' ? 'n' : 'value',
): RunFlag => ({
  flag: name,
  field: fieldOf(name),
  kind,
  help,
  value,
});

export const RUN_FLAGS: readonly RunFlag[] = [
  flag('run', 'string', 'run id: 1-40 of a-z, 0-9 and - (default r<date>-<time>)', 'id'),
  flag('peers', 'number', "number of peers, at most the stack's (default 4)"),
  flag(
    'model',
    'string',
    'softmax | mlp | lenet5 | mobilenet_v3_small | resnet18 | densenet121 (default lenet5)',
    'name',
  ),
  flag('epochs', 'number', 'passes over the data (default 3)'),
  flag('batch-size', 'number', 'samples per function call per step (default 64)'),
  flag('shards-per-peer', 'number', 'functions in parallel per peer per step (default 2)'),
  flag('lr', 'number', 'SGD learning rate (default per model)', 'x'),
  flag('momentum', 'number', 'SGD momentum (default 0.9)', 'x'),
  flag('weight-decay', 'number', 'L2 weight decay (default 0)', 'x'),
  flag('seed', 'number', 'initialisation and shuffling seed (default 42)'),
  flag('train-limit', 'number', 'use only the first N training samples'),
  flag('test-limit', 'number', 'evaluate on only the first N test samples'),
  flag('max-steps-per-epoch', 'number', 'cap on steps per epoch'),
  flag('eval-every', 'number', 'evaluate every k epochs, and after the last (default 1)'),
  flag('sync-timeout-ms', 'number', 'how long a peer waits at the barrier (default 60000)'),
  flag('in-db-path', 'string', 'auto | module | lua | client (default auto)', 'path'),
  flag(
    'aggregation',
    'string',
    'mean | median | trimmed-mean | meamed | krum | multi-krum | geomed | bulyan | centered-clipping | zeno (default mean)',
    'rule',
  ),
  flag('partition', 'string', 'iid | sorted (non-IID: samples ordered by label first) (default iid)', 'kind'),
  flag('byzantine-f', 'number', 'f, the Byzantine peers the rule tolerates (default 1)'),
  flag('probe-interval-ms', 'number', 'how often every other peer is probed (default 500)'),
  flag('probe-timeout-ms', 'number', 'a probe that takes longer fails (default 500)'),
  flag('suspect-after', 'number', 'consecutive failed probes before a peer is suspected (default 2)'),
  flag('heartbeat-interval-ms', 'number', 'how often a worker refreshes its heartbeat (default 400)'),
  flag('heartbeat-stale-ms', 'number', 'a peer silent this long is suspected (default 1500)'),
  flag('target-accuracy', 'number', 'stop when the test accuracy reaches this', 'x'),
  flag('plateau-checks', 'number', 'stop when the test loss has not improved over this many checks'),
  flag('plateau-min-delta', 'number', 'smallest test loss improvement that counts (default 0.001)', 'x'),
];

/** Declares `--config FILE` and every run flag on a command. */
export function addRunFlags(command: Command): Command {
  command.option('--config <file>', 'JSON run config; flags override its fields');
  for (const f of RUN_FLAGS) command.option(`--${f.flag} <${f.value}>`, f.help);
  return command;
}

/**
 * Run config overrides from parsed options (keyed by commander's camelCase attribute names): numbers for
 * number flags, strings as given. Fields the schema does not know pass through, for loadRunConfig to name.
 * @throws ConfigError when a number flag's value is not a number
 */
export function runConfigOverrides(options: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of RUN_FLAGS) {
    const raw = options[camelCase(f.flag)];
    if (typeof raw !== 'string') continue;
    if (f.kind === 'string') {
      out[f.field] = raw;
      continue;
    }
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n)) throw new ConfigError(`flag --${f.flag}: "${raw}" is not a number`);
    out[f.field] = n;
  }
  return out;
}
