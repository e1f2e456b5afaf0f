import { readFile, writeFile } from 'fs/promises';
import { importTrainingGraph } from '../onnx/import';
import { encodeModel } from '../onnx/serialize';
import { makeLayout } from '../engine/layout';
import { ModelDecodeError } from '../onnx/model-decode-error';
import { listModels } from './zoo';

/** `spirt models`: every zoo model with its parameter count. */
export async function listModelsCommand(argv: string[]): Promise<void> {
  const models = listModels();
  if (argv.includes('--json')) {
    console.log(JSON.stringify(models));
    return;
  }
  for (const m of models) console.log(`${m.name.padEnd(20)} ${String(m.params).padStart(10)} params  ${m.description}`);
}

/**
 * `spirt model import model.onnx [--out FILE]`: turns a forward ONNX model into a training graph (written to FILE,
 * default `<model>.training.onnx`) plus a layout manifest beside it (`FILE.json`: parameter and buffer layouts
 * in flat-vector order, and the initial values' source). An op without a gradient rule is an error naming the op
 * and its node; a corrupt file is a ModelDecodeError.
 */
export async function importModelCommand(argv: string[]): Promise<void> {
  const args = argv[0] === 'import' ? argv.slice(1) : argv;
  const outAt = args.indexOf('--out');
  const out = outAt >= 0 ? args[outAt + 1] : undefined;
  const path = args.find((a, i) => !a.startsWith('--') && (outAt < 0 || i !== outAt + 1));
  if (!path) throw new Error('usage: spirt model import model.onnx [--out FILE]');
  if (outAt >= 0 && !out) throw new Error('--out needs a file name');
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new ModelDecodeError(`cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  const { model, training } = importTrainingGraph(bytes);
  const target = out ?? path.replace(/\.onnx$/i, '') + '.training.onnx';
  const layout = makeLayout(model.params);
  const bufferLayout = makeLayout(model.buffers);
  await writeFile(target, encodeModel(training));
  await writeFile(
    `${target}.json`,
    JSON.stringify({ source: path, input: model.input, params: layout, buffers: bufferLayout }, null, 2),
  );
  const ops = new Set(training.nodes.map((n) => n.op));
  console.log(
    `${path}: ${layout.size} trainable parameters in ${layout.entries.length} tensors, ${bufferLayout.size} buffer values; ` +
      `training graph with ${training.nodes.length} nodes (${ops.size} op types) written to ${target} (+ ${target}.json)`,
  );
}
