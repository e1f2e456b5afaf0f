// `spirt bench <suite>`: the benchmark suites in bench/, each with its own flags (passed through as given).
import type { Command } from 'commander';
import { optionalModule } from './common';

const SUITES: { name: string; description: string; flags: string }[] = [
  {
    name: 'engine',
    description: 'forward and training-step times of the zoo models in onnxruntime-node',
    flags: '--json  --models a,b  --batches 64,256  --repeats N  --threads N',
  },
  {
    name: 'indb',
    description: 'in-database averaging, aggregation and SGD: native module vs Lua vs client vs C reference',
    flags: '--json  --quick  --reps N  --models a,b  --k 4,15  --lua-max-floats N',
  },
  {
    name: 'faults',
    description: 'training under injected faults (killed workers and Redis, Temporal restarts)',
    flags: '--json (see bench/faults.ts)',
  },
  {
    name: 'join',
    description: 'a 4th peer joining a running 3-peer run through the signed handshake: join and admission times',
    flags: '--json  --model softmax  --train-limit 3072',
  },
  {
    name: 'aggregation',
    description: 'cost of every aggregation rule inside Redis relative to mean, at resnet18 size',
    flags: '--json  --model resnet18  --floats N  --reps N  --path module|lua|client',
  },
  {
    name: 'robust',
    description: 'accuracy of every rule under every attack, 1 Byzantine peer, on the exact replay; JSON and plots',
    flags:
      '--json  --model lenet5  --epochs 3  --train-limit N  --test-limit 10000  --batch-size 32  --lr X  --set field=value  --attacks a,b  --rules r,s  --partition iid|sorted  --peers N  --jobs N  --out DIR  --no-write  --merge a.json,b.json',
  },
  {
    name: 'epoch',
    description:
      "where an epoch's time goes on a local stack: wall time, time inside gradient functions, per-phase totals, server round trips per step; --timeline: the tail of each step on the real clock",
    flags:
      '--json  --model lenet5  --peers 4  --batch-size 64  --train-limit 16384  --epochs 2  --functions 2  --eager  --function-nice 19  --timeline  --set field=value',
  },
  {
    name: 'signing',
    description: 'cost of signing and checking a published gradient and a sync message at each model size',
    flags: '--json  --reps N  --suite modern|rsa',
  },
];

export function registerBench(program: Command): void {
  const bench = program
    .command('bench')
    .description('run a benchmark suite: engine | indb | faults | join | aggregation | robust | epoch | signing');
  for (const suite of SUITES) {
    bench
      .command(suite.name)
      .description(suite.description)
      .usage('[suite flags]')
      .addHelpText('after', `\nsuite flags: ${suite.flags}`)
      .allowUnknownOption()
      .allowExcessArguments()
      .action((_options: unknown, command: Command) =>
        optionalModule(`../../bench/${suite.name}`, 'main')(command.args),
      );
  }
}
