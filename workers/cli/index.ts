// The `spirt` command line (commander): one file per command. Errors are one line `spirt: error: ...` with exit
// code 1; an unknown or missing command prints the usage and exits 2.
import { Command, CommanderError } from 'commander';
import { registerAdmin } from './admin';
import { registerBench } from './bench';
import { registerDemo } from './demo';
import { registerKeys } from './keys';
import { registerLogs } from './logs';
import { registerModelImport } from './model-import';
import { registerModels } from './models';
import { registerPeer } from './peer';
import { registerStatus } from './status';
import { registerStop } from './stop';
import { registerTemporal } from './temporal';
import { registerTrain } from './train';
import { registerUp } from './up';

export function buildProgram(): Command {
  const program = new Command('spirt')
    .description('SPIRT: peer-to-peer ML training on Temporal and Redis')
    .usage('<command> [options]')
    .showSuggestionAfterError(true)
    // Settings set here are inherited by every command created with .command() below.
    .exitOverride()
    .configureOutput({ outputError: () => undefined });
  registerUp(program);
  registerTrain(program);
  registerDemo(program);
  registerModels(program);
  registerModelImport(program);
  registerBench(program);
  registerStatus(program);
  registerStop(program);
  registerTemporal(program);
  registerPeer(program);
  registerLogs(program);
  registerAdmin(program);
  registerKeys(program);
  program.addHelpText('after', '\nRun `spirt <command> --help` for the options of a command.');
  return program;
}

/** Runs one command line; resolves with the exit code. Errors of the commands themselves are thrown. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  if (argv.length === 0) {
    process.stdout.write(program.helpInformation());
    return 2;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
    switch (err.code) {
      case 'commander.helpDisplayed':
      case 'commander.version':
        return 0;
      case 'commander.help':
        // Help printed because a command group was given no command (`spirt model`): a usage error.
        return err.exitCode === 0 ? 0 : 2;
      case 'commander.unknownCommand':
        process.stderr.write(
          `spirt: unknown command "${argv.join(' ')}"${suggestion(err.message)}\n${deepestCommand(program, argv).helpInformation()}`,
        );
        return 2;
      default:
        process.stderr.write(`spirt: ${oneLine(err.message)}\n`);
        return 1;
    }
  }
}

/** The command group an argument list reaches (`peer frob` -> `peer`), for its usage. */
function deepestCommand(program: Command, argv: string[]): Command {
  let command = program;
  for (const arg of argv) {
    const sub = command.commands.find((c) => c.name() === arg || c.aliases().includes(arg));
    if (!sub) break;
    command = sub;
  }
  return command;
}

function suggestion(message: string): string {
  const match = /\(Did you mean (.+)\?\)/.exec(message);
  return match ? ` (did you mean ${match[1]}?)` : '';
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
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
