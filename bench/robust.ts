// `spirt bench robust [--json] [--model lenet5] [--epochs 3] [--train-limit N] [--attacks a,b] [--rules r,s]
//   [--partition iid|sorted] [--out DIR]`
//
// The robustness grid on an exact single-process replay of the distributed schedule (bench/robust-replay.ts;
// a fault test checks it against a real 4-peer run): 4 peers with 1 Byzantine (p4) over the attacks and every
// rule whose preconditions hold at n = 4; Krum and Multi-Krum run at n = 5 and Bulyan at n = 7 (their
// smallest n at f = 1), also with 1 Byzantine. Zeno is not replayed (each peer scores on its own batch): it
// runs on the real stack (test/faults). Prints the results as JSON and writes plots (SVG and PNG) to --out.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ATTACKS, type AttackSpec } from '../lib/attacks/attacks';
import { minInputs } from '../lib/aggregation/rule';
import { parseRunConfig } from '../lib/config';
import type { RunConfig } from '../lib/config/schema';
import { ConfigError } from '../lib/errors/config-error';
import { robustReplay } from './robust-replay';

type Rule = RunConfig['aggregation'];
const RULES: { name: string; aggregation: Rule; preAggregation?: ('nnm' | 'clipping')[] }[] = [
  { name: 'mean', aggregation: 'mean' },
  { name: 'median', aggregation: 'median' },
  { name: 'trimmed-mean', aggregation: 'trimmed-mean' },
  { name: 'meamed', aggregation: 'meamed' },
  { name: 'geomed', aggregation: 'geomed' },
  { name: 'centered-clipping', aggregation: 'centered-clipping' },
  { name: 'nnm+trimmed-mean', aggregation: 'trimmed-mean', preAggregation: ['nnm'] },
  { name: 'nnm+meamed', aggregation: 'meamed', preAggregation: ['nnm'] },
  { name: 'krum', aggregation: 'krum' },
  { name: 'multi-krum', aggregation: 'multi-krum' },
  { name: 'bulyan', aggregation: 'bulyan' },
];

/** Attack parameters of the grid (ALIE's z set so that it bites at small n; its default is 0 at n = 4). */
const ATTACK_SPECS: Record<string, AttackSpec | null> = {
  none: null,
  signflip: { attack: 'signflip', scale: 3 },
  gaussian: { attack: 'gaussian', sigma: 1 },
  alie: { attack: 'alie', z: 1.5 },
  ipm: { attack: 'ipm', epsilon: 0.5 },
  labelflip: { attack: 'labelflip' },
};

export interface RobustResult {
  attack: string;
  rule: string;
  peers: number;
  byzantine: number;
  partition: string;
  accuracy: number;
  epochs: number;
  aggregation_ms: number;
  curve: number[];
}

export async function main(argv: string[]): Promise<void> {
  const o = {
    json: false,
    model: 'lenet5',
    epochs: 3,
    trainLimit: 12_000,
    attacks: Object.keys(ATTACK_SPECS),
    rules: RULES.map((r) => r.name),
    partition: 'iid' as 'iid' | 'sorted',
    out: join(process.cwd(), 'bench-robust'),
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => {
      const x = argv[++i];
      if (x === undefined) throw new ConfigError(`bench robust: ${a} needs a value`);
      return x;
    };
    if (a === '--json') o.json = true;
    else if (a === '--model') o.model = v();
    else if (a === '--epochs') o.epochs = Number(v());
    else if (a === '--train-limit') o.trainLimit = Number(v());
    else if (a === '--attacks') o.attacks = v().split(',');
    else if (a === '--rules') o.rules = v().split(',');
    else if (a === '--partition') {
      const p = v();
      if (p !== 'iid' && p !== 'sorted') throw new ConfigError('bench robust: --partition must be iid or sorted');
      o.partition = p;
    } else if (a === '--out') o.out = v();
    else if (a === '--help' || a === '-h') {
      process.stdout.write(
        'usage: spirt bench robust [--json] [--model lenet5] [--epochs 3] [--train-limit 12000] [--attacks none,signflip,...] [--rules mean,meamed,...] [--partition iid|sorted] [--out DIR]\n',
      );
      return;
    } else throw new ConfigError(`bench robust: unknown option ${a}`);
  }
  for (const a of o.attacks)
    if (!(a in ATTACK_SPECS)) throw new ConfigError(`bench robust: unknown attack ${a} (none, ${ATTACKS.join(', ')})`);
  const say = (line: string) => (o.json ? process.stderr : process.stdout).write(line + '\n');
  const results: RobustResult[] = [];
  for (const attack of o.attacks) {
    for (const name of o.rules) {
      const rule = RULES.find((r) => r.name === name);
      if (!rule) throw new ConfigError(`bench robust: unknown rule ${name}`);
      const peers = Math.max(4, minInputs(rule.aggregation, 1));
      const spec = ATTACK_SPECS[attack];
      const config = parseRunConfig({
        model: o.model,
        peers,
        epochs: o.epochs,
        trainLimit: o.trainLimit,
        testLimit: 2000,
        aggregation: rule.aggregation,
        byzantineF: 1,
        partition: o.partition,
        ...(rule.preAggregation ? { preAggregation: rule.preAggregation } : {}),
        ...(spec ? { byzantine: [{ peer: `p${peers}`, ...spec }] } : {}),
      });
      const out = await robustReplay(config);
      const r: RobustResult = {
        attack,
        rule: name,
        peers,
        byzantine: spec ? 1 : 0,
        partition: o.partition,
        accuracy: out.curve[out.curve.length - 1],
        epochs: o.epochs,
        aggregation_ms: Math.round(out.aggregationMs * 100) / 100,
        curve: out.curve,
      };
      results.push(r);
      say(
        `${attack.padEnd(10)} ${name.padEnd(20)} n=${peers}  accuracy ${r.accuracy.toFixed(4)}  ${r.curve.map((c) => c.toFixed(3)).join(' ')}`,
      );
    }
  }
  const report = { suite: 'robust', model: o.model, results };
  mkdirSync(o.out, { recursive: true });
  writeFileSync(join(o.out, 'robust.json'), JSON.stringify(report, null, 2) + '\n');
  const { writePlots } = await import('./robust-plots');
  const files = await writePlots(report, o.out);
  say(`wrote ${join(o.out, 'robust.json')} and ${files.length} plots`);
  if (o.json) process.stdout.write(JSON.stringify(report) + '\n');
}
