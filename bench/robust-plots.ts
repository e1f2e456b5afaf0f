// Plots of `spirt bench robust`, drawn by Vega-Lite (rendered headless by Vega to SVG) and converted to PNG by
// resvg: accuracy per epoch per rule, one panel per attack; and the aggregation cost per rule.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RobustResult } from './robust';

interface Report {
  model: string;
  results: RobustResult[];
}

async function render(spec: object, base: string, out: string): Promise<string[]> {
  const vegaLite = await import('vega-lite');
  const vega = await import('vega');
  const { Resvg } = await import('@resvg/resvg-js');
  const compiled = vegaLite.compile(spec as Parameters<typeof vegaLite.compile>[0]).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  const svgPath = join(out, `${base}.svg`);
  const pngPath = join(out, `${base}.png`);
  writeFileSync(svgPath, svg);
  writeFileSync(pngPath, new Resvg(svg, { background: 'white', fitTo: { mode: 'zoom', value: 2 } }).render().asPng());
  return [svgPath, pngPath];
}

/** Writes accuracy.{svg,png} and cost.{svg,png} into `out`; returns the files written. */
export async function writePlots(report: Report, out: string): Promise<string[]> {
  const curves = report.results.flatMap((r) =>
    r.curve.map((accuracy, i) => ({ attack: r.attack, rule: r.rule, epoch: i + 1, accuracy })),
  );
  const accuracy = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: `Test accuracy per epoch, 1 Byzantine peer (${report.model})`,
    data: { values: curves },
    facet: { field: 'attack', type: 'nominal', title: 'attack' },
    columns: 3,
    spec: {
      width: 220,
      height: 160,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'epoch', type: 'ordinal', title: 'epoch' },
        y: { field: 'accuracy', type: 'quantitative', title: 'test accuracy', scale: { domain: [0, 1] } },
        color: { field: 'rule', type: 'nominal', title: 'rule', scale: { scheme: 'tableau20' } },
      },
    },
  };
  const costs = new Map<string, number[]>();
  for (const r of report.results) costs.set(r.rule, [...(costs.get(r.rule) ?? []), r.aggregation_ms]);
  const cost = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: 'Aggregation time per step (replay, mean over attacks)',
    width: 400,
    height: 220,
    data: {
      values: [...costs].map(([rule, ms]) => ({ rule, ms: ms.reduce((a, b) => a + b, 0) / ms.length })),
    },
    mark: 'bar',
    encoding: {
      x: { field: 'rule', type: 'nominal', sort: '-y', title: 'rule' },
      y: { field: 'ms', type: 'quantitative', title: 'ms per step' },
    },
  };
  return [...(await render(accuracy, 'accuracy', out)), ...(await render(cost, 'cost', out))];
}
