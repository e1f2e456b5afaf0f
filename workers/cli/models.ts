// `spirt models`: the model zoo.
import type { Command } from 'commander';
import { optionalModule } from './common';

export function registerModels(program: Command): void {
  program
    .command('models')
    .description('list the model zoo with parameter counts')
    .option('--json', 'one JSON array')
    .action((options: { json?: boolean }) =>
      optionalModule('../../lib/models/cli', 'listModelsCommand')(options.json ? ['--json'] : []),
    );
}
