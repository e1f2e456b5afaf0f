// `spirt model import FILE`: a forward ONNX model into a training graph.
import type { Command } from 'commander';
import { optionalModule } from './common';

export function registerModelImport(program: Command): void {
  const model = program.command('model').description('model files');
  model
    .command('import')
    .description('turn a forward ONNX model into a training graph (+ a layout manifest FILE.json beside it)')
    .argument('<file>', 'forward ONNX model')
    .option('--out <file>', 'training graph to write (default <model>.training.onnx)')
    .action((file: string, options: { out?: string }) =>
      optionalModule(
        '../../lib/models/cli',
        'importModelCommand',
      )([file, ...(options.out ? ['--out', options.out] : [])]),
    );
}
