// Helpers shared by the command files: output, integer flags, the stack summary, Temporal options. Light on
// purpose (no Temporal SDK): `spirt --help` loads every command file; actions import what they need.
import type { Command } from 'commander';
import { ConfigError } from '../../lib/errors/config-error';
import type { Stack } from '../../lib/stack/stack';

export function say(line: string): void {
  process.stdout.write(line + '\n');
}

/** A positive integer flag value, or `fallback` when the flag is absent. */
export function intFlag(raw: string | undefined, flag: string, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new ConfigError(`flag --${flag}: "${raw}" is not a positive integer`);
  return n;
}

/** Resolves on Ctrl-C / SIGTERM (returns the signal) or when the stack fails (throws). */
export function untilStopped(stack: Pick<Stack, 'failure'> | null): Promise<string> {
  return new Promise((resolve, reject) => {
    const onSignal = (signal: string) => resolve(signal);
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    stack?.failure.then((why) => reject(new Error(why)), reject);
  });
}

export function printStack(stack: Stack, stateDir: string, line: (text: string) => void = say): void {
  const f = stack.file;
  line(`Temporal:    ${f.temporal.address} (namespace ${f.temporal.namespace})`);
  line(`Temporal UI: ${f.temporal.uiUrl}`);
  for (const p of f.peers) line(`peer ${p.id}:     redis ${p.host}:${p.port}  task queue ${p.taskQueue}`);
  line(`in-DB ops:   ${f.moduleLoaded ? 'native module' : 'Lua scripts (module not built)'}`);
  line(`state dir:   ${stateDir}`);
  line(`logs:        ${stack.logDir} (worker JSON logs <peer>.log, temporal.log; spirt logs [PEER] [-f])`);
}

type SubMain = (argv: string[]) => Promise<void>;

/** A command implemented in a module this build may lack: a missing one is a clear error, not a crash. */
export function optionalModule(path: string, exportName: string): SubMain {
  let mod: Record<string, unknown>;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = require(path) as Record<string, unknown>;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND' || !String((err as Error).message).includes(path)) {
      throw err;
    }
    throw new ConfigError(`this build has no ${path.split('/').pop()} command yet`);
  }
  const fn = mod[exportName];
  if (typeof fn !== 'function') throw new ConfigError(`this build has no ${exportName} in ${path}`);
  return fn as SubMain;
}

/** `--state-dir`, `--address`, `--namespace`: where the commands that talk to Temporal find it. */
export function addTemporalOptions(command: Command): Command {
  return command
    .option(
      '--state-dir <dir>',
      'state dir of the stack whose Temporal to use (default $SPIRT_STATE_DIR or ~/.local/state/spirt)',
    )
    .option('--address <host:port>', 'Temporal frontend address (instead of the stack file)')
    .option('--namespace <ns>', 'Temporal namespace (default the stack\'s, else "default")');
}

export interface TemporalOptions {
  stateDir?: string;
  address?: string;
  namespace?: string;
}
