// `spirt bench robust [--json] [--model lenet5] [--epochs 3] [--train-limit N] [--attacks a,b] [--rules r,s]
//   [--partition iid|sorted] [--out DIR]`
//
// The robustness grid on an exact single-process replay of the distributed schedule (bench/robust-replay.ts;
// a fault test checks it against a real 4-peer run): 4 peers with 1 Byzantine (p4) over the attacks and every
// rule whose preconditions hold at n = 4; Krum and Multi-Krum run at n = 5 and Bulyan at n = 7 (their
// smallest n at f = 1), also with 1 Byzantine. Prints the results as JSON and writes plots (SVG and PNG) to
// --out.
import { execFile } from 'node:child_process';
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
  { name: 'zeno', aggregation: 'zeno' },
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
    trainLimit: undefined as number | undefined,
    testLimit: 10_000,
    lr: undefined as number | undefined,
    batchSize: 32,
    jobs: 1,
    write: true,
    peers: undefined as number | undefined,
    merge: [] as string[],
    set: {} as Record<string, unknown>,
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
    else if (a === '--jobs') o.jobs = Math.max(1, Math.floor(Number(v())) || 1);
    else if (a === '--no-write') o.write = false;
    else if (a === '--peers') o.peers = Number(v());
    else if (a === '--merge') o.merge = v().split(',');
    else if (a === '--test-limit') o.testLimit = Number(v());
    else if (a === '--lr') o.lr = Number(v());
    else if (a === '--batch-size') o.batchSize = Number(v());
    else if (a === '--set') {
      const kv = v();
      const eq = kv.indexOf('=');
      if (eq < 1) throw new ConfigError(`bench robust: --set needs key=value, got ${kv}`);
      try {
        o.set[kv.slice(0, eq)] = JSON.parse(kv.slice(eq + 1));
      } catch {
        o.set[kv.slice(0, eq)] = kv.slice(eq + 1);
      }
    } else if (a === '--attacks') o.attacks = v().split(',');
    else if (a === '--rules') o.rules = v().split(',');
    else if (a === '--partition') {
      const p = v();
      if (p !== 'iid' && p !== 'sorted') throw new ConfigError('bench robust: --partition must be iid or sorted');
      o.partition = p;
    } else if (a === '--out') o.out = v();
    else if (a === '--help' || a === '-h') {
      process.stdout.write(
        [
          'usage: spirt bench robust [--json] [--model lenet5] [--epochs 3] [--train-limit N] [--test-limit 10000]',
          '         [--batch-size 32] [--lr X] [--set field=value] [--attacks none,signflip,...] [--rules mean,meamed,...]',
          '         [--partition iid|sorted] [--peers N] [--jobs N] [--out DIR] [--no-write]',
          '       spirt bench robust --merge a.json,b.json [--json] [--out DIR]',
          '',
          'The robustness grid on an exact replay of the distributed schedule: every attack x rule cell, 4 peers',
          '(Krum and Multi-Krum at 5, Bulyan at 7; --peers N for all) with the last one Byzantine. Defaults: the whole MNIST training',
          "set, 3 epochs, batch 32 per shard (global 256), the model's default learning rate. --set overrides any",
          'run config field for every cell (--set centeredClippingTau=0.5). --jobs runs cells in N processes.',
          'Writes robust.json and the plots to --out (default ./bench-robust) unless --no-write. --merge runs',
          "nothing: it combines result files (a later file's cell replaces an earlier one) and draws the plots.",
        ].join('\n') + '\n',
      );
      return;
    } else throw new ConfigError(`bench robust: unknown option ${a}`);
  }
  if (o.merge.length > 0) return mergeReports(o.merge, o.out, o.json);
  for (const a of o.attacks)
    if (!(a in ATTACK_SPECS)) throw new ConfigError(`bench robust: unknown attack ${a} (none, ${ATTACKS.join(', ')})`);
  const say = (line: string) => (o.json ? process.stderr : process.stdout).write(line + '\n');
  for (const name of o.rules)
    if (!RULES.some((r) => r.name === name)) throw new ConfigError(`bench robust: unknown rule ${name}`);
  const cells = o.attacks.flatMap((attack) => o.rules.map((rule) => ({ attack, rule })));
  const runCell = async (attack: string, name: string): Promise<RobustResult> => {
    const rule = RULES.find((r) => r.name === name)!;
    const peers = o.peers ?? Math.max(4, minInputs(rule.aggregation, 1));
    const spec = ATTACK_SPECS[attack];
    const config = parseRunConfig({
      ...o.set,
      model: o.model,
      peers,
      epochs: o.epochs,
      ...(o.trainLimit !== undefined ? { trainLimit: o.trainLimit } : {}),
      testLimit: o.testLimit,
      ...(o.lr !== undefined ? { learningRate: o.lr } : {}),
      batchSize: o.batchSize,
      aggregation: rule.aggregation,
      byzantineF: 1,
      partition: o.partition,
      ...(rule.preAggregation ? { preAggregation: rule.preAggregation } : {}),
      ...(spec ? { byzantine: [{ peer: `p${peers}`, ...spec }] } : {}),
    });
    const out = await robustReplay(config);
    return {
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
  };
  // A cell in a child process: this command again, narrowed to the cell, printing its JSON.
  const runChild = (attack: string, name: string) =>
    new Promise<RobustResult>((resolve, reject) => {
      const args = [...argv, '--attacks', attack, '--rules', name, '--jobs', '1', '--json', '--no-write'];
      execFile(
        process.execPath,
        [process.argv[1], 'bench', 'robust', ...args],
        { maxBuffer: 16 << 20 },
        (err, stdout, stderr) => {
          if (err)
            return reject(new Error(`bench robust: cell ${attack}/${name} failed: ${stderr.trim() || err.message}`));
          const lines = stdout.trim().split('\n');
          resolve((JSON.parse(lines[lines.length - 1]) as { results: RobustResult[] }).results[0]);
        },
      );
    });
  const results: RobustResult[] = new Array(cells.length);
  let next = 0;
  const lane = async () => {
    while (next < cells.length) {
      const k = next++;
      const { attack, rule } = cells[k];
      const r = o.jobs > 1 ? await runChild(attack, rule) : await runCell(attack, rule);
      results[k] = r;
      say(
        `${attack.padEnd(10)} ${rule.padEnd(20)} n=${r.peers}  accuracy ${r.accuracy.toFixed(4)}  ${r.curve.map((c) => c.toFixed(3)).join(' ')}`,
      );
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.jobs, cells.length) }, lane));
  const report = { suite: 'robust', model: o.model, results };
  if (o.write) {
    mkdirSync(o.out, { recursive: true });
    writeFileSync(join(o.out, 'robust.json'), JSON.stringify(report, null, 2) + '\n');
    const { writePlots } = await import('./robust-plots');
    const files = await writePlots(report, o.out);
    say(`wrote ${join(o.out, 'robust.json')} and ${files.length} plots`);
  }
  if (o.json) process.stdout.write(JSON.stringify(report) + '\n');
}

/** Combines result files by (partition, attack, rule, peers); a later file's cell replaces an earlier one. */
async function mergeReports(files: string[], out: string, json: boolean): Promise<void> {
  const { readFileSync } = await import('node:fs');
  const cells = new Map<string, RobustResult>();
  let model = '';
  for (const file of files) {
    const report = JSON.parse(readFileSync(file, 'utf8')) as { model: string; results: RobustResult[] };
    model ||= report.model;
    for (const r of report.results) cells.set(`${r.partition}/${r.attack}/${r.rule}/${r.peers}`, r);
  }
  const report = { suite: 'robust', model, results: [...cells.values()] };
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'robust.json'), JSON.stringify(report, null, 2) + '\n');
  const { writePlots } = await import('./robust-plots');
  const plots = await writePlots(report, out);
  (json ? process.stderr : process.stdout).write(
    `merged ${files.length} files into ${join(out, 'robust.json')} and ${plots.length} plots\n`,
  );
  if (json) process.stdout.write(JSON.stringify(report) + '\n');
}
