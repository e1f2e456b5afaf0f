import { GraphError } from './graph-error';
import { inferNode } from './shape-inference';
import type { Attrs, ConstTensor, DType, Dim, GraphNode, Shape, ValueInfo } from './types';

/** The opset every graph this project emits declares. */
export const OPSET = 17;

/** An immutable-by-convention ONNX graph in the project's IR (nodes in topological order). */
export interface Graph {
  name: string;
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  nodes: GraphNode[];
  initializers: Map<string, ConstTensor>;
  /** Inferred type and shape of every value (inputs, initializers, node outputs). */
  values: Map<string, ValueInfo>;
  opset: number;
}

export interface NodeOptions {
  /** Number of outputs, or explicit output names. @default 1 */
  outputs?: number | string[];
  /** Node name. @default op + counter */
  name?: string;
}

/**
 * Builds a graph op by op, inferring every value's dtype and shape as it goes so that shape errors surface
 * at the node that causes them (with the node's name) rather than inside onnxruntime.
 */
export class GraphBuilder {
  readonly inputs: ValueInfo[] = [];
  readonly outputs: ValueInfo[] = [];
  readonly nodes: GraphNode[] = [];
  readonly initializers = new Map<string, ConstTensor>();
  readonly values = new Map<string, ValueInfo>();
  private readonly knownValues = new Map<string, Dim[]>();
  private readonly used = new Set<string>();
  private readonly nodeNames = new Set<string>();
  private counter = 0;

  constructor(readonly name = 'graph') {}

  /** Starts a builder holding a copy of an existing graph (nodes, inputs, initializers, but no outputs). */
  static from(g: Graph): GraphBuilder {
    const b = new GraphBuilder(g.name);
    b.reserveNames(g);
    for (const i of g.inputs) b.input(i.name, i.dtype, i.shape);
    for (const [n, t] of g.initializers) b.addInitializer(n, t);
    for (const n of g.nodes) b.addNode({ ...n, inputs: [...n.inputs], outputs: [...n.outputs], attrs: { ...n.attrs } });
    return b;
  }

  /** Reserves every value and node name of `g` so fresh names never collide with nodes copied later. */
  reserveNames(g: Graph): void {
    for (const v of g.values.keys()) this.used.add(v);
    for (const n of g.nodes) this.used.add(n.name);
  }

  /** A fresh name starting with `hint`, unique within this graph. */
  fresh(hint: string): string {
    let name = hint;
    while (this.used.has(name)) name = `${hint}_${++this.counter}`;
    this.used.add(name);
    return name;
  }

  has(name: string): boolean {
    return this.values.has(name);
  }

  info(name: string): ValueInfo {
    const v = this.values.get(name);
    if (!v) throw new GraphError(`unknown value '${name}'`);
    return v;
  }

  shape(name: string): Shape {
    return this.info(name).shape;
  }

  rank(name: string): number {
    return this.info(name).shape.length;
  }

  /** Static shape of a value; throws if any dimension is symbolic. */
  staticShape(name: string): number[] {
    const s = this.shape(name);
    if (s.some((d) => typeof d !== 'number'))
      throw new GraphError(`value '${name}' has a symbolic shape [${s.join(', ')}]`);
    return s as number[];
  }

  known(name: string): Dim[] | undefined {
    return this.knownValues.get(name);
  }

  input(name: string, dtype: DType, shape: Shape): string {
    if (this.values.has(name)) throw new GraphError(`duplicate value name '${name}'`);
    this.used.add(name);
    const v = { name, dtype, shape: [...shape] };
    this.inputs.push(v);
    this.values.set(name, v);
    return name;
  }

  addInitializer(name: string, t: ConstTensor): string {
    if (this.values.has(name)) throw new GraphError(`duplicate value name '${name}'`);
    if (t.data.length !== t.dims.reduce((p, d) => p * d, 1))
      throw new GraphError(`initializer '${name}' has the wrong number of values`);
    this.used.add(name);
    this.initializers.set(name, t);
    this.values.set(name, { name, dtype: t.dtype, shape: [...t.dims] });
    if (t.dtype === 'int64' && t.dims.length <= 1)
      this.knownValues.set(name, Array.from(t.data as BigInt64Array, Number));
    return name;
  }

  /** A float32 constant (scalar when dims is []). */
  constFloat(values: number[] | Float32Array, dims: number[] = [values.length], hint = 'const'): string {
    return this.addInitializer(this.fresh(hint), { dtype: 'float32', dims, data: Float32Array.from(values) });
  }

  /** An int64 constant (1-D unless dims given). Small shape vectors are deduplicated. */
  constInt64(values: number[], dims: number[] = [values.length], hint = 'ints'): string {
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    return this.addInitializer(this.fresh(hint), { dtype: 'int64', dims, data });
  }

  /** Adds a node with explicit output names (used when copying graphs). */
  addNode(node: GraphNode): string[] {
    if (!node.name) node.name = this.fresh(node.op);
    else this.used.add(node.name);
    if (this.nodeNames.has(node.name)) node.name = this.fresh(node.name);
    this.nodeNames.add(node.name);
    const inputs = node.inputs.map((n) => {
      if (n === '') return undefined;
      const v = this.values.get(n);
      if (!v) throw new GraphError(`${node.op} node '${node.name}' reads unknown value '${n}'`);
      return v;
    });
    const r = inferNode({ node, inputs, known: (n) => this.knownValues.get(n) });
    node.outputs.forEach((out, i) => {
      if (out === '') return;
      if (this.values.has(out)) throw new GraphError(`value '${out}' is produced twice`);
      this.used.add(out);
      const o = r.outputs[i];
      this.values.set(out, { name: out, dtype: o.dtype, shape: o.shape });
    });
    if (r.value && node.outputs[0]) this.knownValues.set(node.outputs[0], r.value);
    this.nodes.push(node);
    return node.outputs;
  }

  /** Adds a node and returns its output names. */
  node(op: string, inputs: string[], attrs: Attrs = {}, opts: NodeOptions = {}): string[] {
    const name = opts.name ? this.fresh(opts.name) : this.fresh(op);
    const outs = opts.outputs ?? 1;
    const outputs =
      typeof outs === 'number'
        ? Array.from({ length: outs }, (_, i) => this.fresh(`${name}_out${i === 0 ? '' : i}`))
        : outs;
    return this.addNode({ op, name, inputs: [...inputs], outputs, attrs });
  }

  /** Adds a single-output node and returns the output name. */
  op(op: string, inputs: string[], attrs: Attrs = {}, name?: string): string {
    return this.node(op, inputs, attrs, { name })[0];
  }

  output(name: string): void {
    this.outputs.push({ ...this.info(name) });
  }

  /**
   * Removes nodes that no graph output depends on, and initializers nothing reads (onnxruntime runs every node
   * it is given). Gradient rules may offer a value in two forms and let the consumers pick one.
   */
  pruneDead(): void {
    const needed = new Set(this.outputs.map((o) => o.name));
    const kept: GraphNode[] = [];
    for (let i = this.nodes.length - 1; i >= 0; i--) {
      const n = this.nodes[i];
      if (!n.outputs.some((o) => o && needed.has(o))) continue;
      kept.push(n);
      for (const input of n.inputs) if (input) needed.add(input);
    }
    this.nodes.splice(0, this.nodes.length, ...kept.reverse());
    for (const name of [...this.initializers.keys()]) if (!needed.has(name)) this.initializers.delete(name);
  }

  build(): Graph {
    return {
      name: this.name,
      inputs: [...this.inputs],
      outputs: [...this.outputs],
      nodes: [...this.nodes],
      initializers: new Map(this.initializers),
      values: new Map(this.values),
      opset: OPSET,
    };
  }
}
