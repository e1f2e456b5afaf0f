import type { Graph } from './builder';
import type { Attr, ValueInfo } from './types';

function formatAttr(a: Attr): string {
  switch (a.kind) {
    case 'ints':
    case 'floats':
      return `[${a.value.join(',')}]`;
    case 'string':
      return JSON.stringify(a.value);
    case 'tensor':
      return `tensor<${a.value.dtype}>[${a.value.dims.join(',')}]`;
    default:
      return String(a.value);
  }
}

function formatValue(v: ValueInfo | undefined, name: string): string {
  return v ? `${name}: ${v.dtype}[${v.shape.join(',')}]` : name;
}

/**
 * A readable listing of a graph for debugging: inputs, initializers (shapes only), one line per node in
 * execution order (`outputs = Op(inputs) {attributes}` with inferred shapes), outputs.
 */
export function dumpGraph(g: Graph): string {
  const lines: string[] = [`graph ${g.name} (opset ${g.opset})`];
  for (const i of g.inputs) lines.push(`  input  ${formatValue(i, i.name)}`);
  for (const [name, t] of g.initializers) lines.push(`  const  ${name}: ${t.dtype}[${t.dims.join(',')}]`);
  for (const n of g.nodes) {
    const outs = n.outputs.map((o) => formatValue(g.values.get(o), o)).join(', ');
    const attrs = Object.entries(n.attrs).map(([k, a]) => `${k}=${formatAttr(a)}`);
    lines.push(
      `  ${outs} = ${n.op}(${n.inputs.join(', ')})${attrs.length ? ` {${attrs.join(', ')}}` : ''}  # ${n.name}`,
    );
  }
  for (const o of g.outputs) lines.push(`  output ${formatValue(o, o.name)}`);
  return lines.join('\n');
}
