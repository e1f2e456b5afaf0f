import { onnx } from 'onnx-proto';
import { OPSET, type Graph } from './builder';
import { ModelDecodeError } from './model-decode-error';
import type { Attr, Attrs, ConstTensor, DType, Dim, GraphNode, ValueInfo } from './types';

const ONNX_TYPE: Record<DType, number> = { float32: 1, uint8: 2, int32: 6, int64: 7, bool: 9, float64: 11 };
const DTYPE_OF: Record<number, DType> = { 1: 'float32', 2: 'uint8', 6: 'int32', 7: 'int64', 9: 'bool', 11: 'float64' };
const BYTES: Record<DType, number> = { float32: 4, uint8: 1, int32: 4, int64: 8, bool: 1, float64: 8 };

function rawBytes(t: ConstTensor): Uint8Array {
  // Every platform Node runs on here is little-endian, which is what ONNX raw_data requires.
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength).slice();
}

export function tensorToProto(name: string, t: ConstTensor): onnx.ITensorProto {
  return { name, dims: t.dims, dataType: ONNX_TYPE[t.dtype], rawData: rawBytes(t) };
}

function attrToProto(name: string, a: Attr): onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.kind) {
    case 'int':
      return { name, type: T.INT, i: a.value };
    case 'float':
      return { name, type: T.FLOAT, f: a.value };
    case 'ints':
      return { name, type: T.INTS, ints: a.value };
    case 'floats':
      return { name, type: T.FLOATS, floats: a.value };
    case 'string':
      return { name, type: T.STRING, s: new TextEncoder().encode(a.value) };
    case 'tensor':
      return { name, type: T.TENSOR, t: tensorToProto('', a.value) };
  }
}

function valueInfoToProto(v: ValueInfo): onnx.IValueInfoProto {
  return {
    name: v.name,
    type: {
      tensorType: {
        elemType: ONNX_TYPE[v.dtype],
        shape: { dim: v.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

export function graphToProto(g: Graph): onnx.IModelProto {
  const nodes: onnx.INodeProto[] = g.nodes.map((n) => ({
    opType: n.op,
    name: n.name,
    input: n.inputs,
    output: n.outputs,
    attribute: Object.entries(n.attrs).map(([k, a]) => attrToProto(k, a)),
  }));
  return {
    irVersion: 8,
    producerName: 'spirt',
    opsetImport: [{ domain: '', version: g.opset ?? OPSET }],
    graph: {
      name: g.name,
      node: nodes,
      input: g.inputs.map(valueInfoToProto),
      output: g.outputs.map((o) =>
        valueInfoToProto({ ...o, shape: o.shape.map((d) => (typeof d === 'number' ? d : 'dyn')) }),
      ),
      initializer: [...g.initializers].map(([name, t]) => tensorToProto(name, t)),
    },
  };
}

/** Serialises a graph into ONNX model bytes that onnxruntime can load. */
export function encodeModel(g: Graph): Uint8Array {
  return onnx.ModelProto.encode(graphToProto(g)).finish();
}

function toNumber(v: number | { toNumber(): number }): number {
  return typeof v === 'number' ? v : v.toNumber();
}

export function tensorFromProto(t: onnx.ITensorProto): ConstTensor {
  const dtype = DTYPE_OF[t.dataType ?? 0];
  if (!dtype) throw new ModelDecodeError(`tensor '${t.name ?? ''}' has unsupported data type ${t.dataType}`);
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    throw new ModelDecodeError(`tensor '${t.name ?? ''}' uses external data, which import does not support`);
  }
  const dims = (t.dims ?? []).map(toNumber);
  const count = dims.reduce((p, d) => p * d, 1);
  let data: ConstTensor['data'];
  if (t.rawData && t.rawData.length > 0) {
    if (t.rawData.length !== count * BYTES[dtype]) {
      throw new ModelDecodeError(
        `tensor '${t.name ?? ''}' holds ${t.rawData.length} bytes, expected ${count * BYTES[dtype]}`,
      );
    }
    // protobufjs hands out Buffer views into a shared pool: copy into an exactly sized ArrayBuffer.
    const buf = Uint8Array.from(t.rawData).buffer;
    if (dtype === 'float32') data = new Float32Array(buf);
    else if (dtype === 'float64') data = new Float64Array(buf);
    else if (dtype === 'int64') data = new BigInt64Array(buf);
    else if (dtype === 'int32') data = new Int32Array(buf);
    else data = new Uint8Array(buf);
  } else {
    if (dtype === 'float32') data = Float32Array.from(t.floatData ?? []);
    else if (dtype === 'float64') data = Float64Array.from(t.doubleData ?? []);
    else if (dtype === 'int64') data = BigInt64Array.from((t.int64Data ?? []).map((v) => BigInt(toNumber(v))));
    else if (dtype === 'int32') data = Int32Array.from(t.int32Data ?? []);
    else data = Uint8Array.from(t.int32Data ?? []);
    if (data.length !== count) {
      throw new ModelDecodeError(`tensor '${t.name ?? ''}' holds ${data.length} values, expected ${count}`);
    }
  }
  return { dtype, dims, data };
}

function attrFromProto(a: onnx.IAttributeProto, node: string): Attr {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.type) {
    case T.INT:
      return { kind: 'int', value: toNumber(a.i ?? 0) };
    case T.FLOAT:
      return { kind: 'float', value: a.f ?? 0 };
    case T.INTS:
      return { kind: 'ints', value: (a.ints ?? []).map(toNumber) };
    case T.FLOATS:
      return { kind: 'floats', value: a.floats ?? [] };
    case T.STRING:
      return { kind: 'string', value: new TextDecoder().decode(a.s ?? new Uint8Array()) };
    case T.TENSOR:
      return { kind: 'tensor', value: tensorFromProto(a.t ?? {}) };
    default:
      throw new ModelDecodeError(`node '${node}': attribute '${a.name}' has unsupported type ${a.type}`);
  }
}

/** A decoded model before shape inference: the raw parts the importer turns into a Graph. */
export interface DecodedModel {
  name: string;
  opset: number;
  inputs: ValueInfo[];
  outputs: string[];
  nodes: GraphNode[];
  initializers: Map<string, ConstTensor>;
}

function valueInfoFromProto(v: onnx.IValueInfoProto): ValueInfo {
  const tt = v.type?.tensorType;
  const dtype = DTYPE_OF[tt?.elemType ?? 0];
  if (!tt || !dtype) throw new ModelDecodeError(`graph input '${v.name}' is not a tensor of a supported type`);
  const shape: Dim[] = (tt.shape?.dim ?? []).map((d, i) =>
    d.dimValue !== undefined && d.dimValue !== null && toNumber(d.dimValue) > 0
      ? toNumber(d.dimValue)
      : d.dimParam || `d${i}`,
  );
  return { name: v.name ?? '', dtype, shape };
}

/**
 * Decodes ONNX model bytes. Anything that is not a well-formed ONNX model (truncated file, random bytes,
 * no graph, a non-default op domain) is a ModelDecodeError.
 */
export function decodeModel(bytes: Uint8Array): DecodedModel {
  let m: onnx.ModelProto;
  try {
    m = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new ModelDecodeError(`not a valid ONNX model: ${(e as Error).message}`, { cause: e });
  }
  const g = m.graph;
  if (!g || !g.node || g.node.length === 0) throw new ModelDecodeError('not a valid ONNX model: it has no graph nodes');
  const opset = (m.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  const initializers = new Map<string, ConstTensor>();
  for (const t of g.initializer ?? []) initializers.set(t.name ?? '', tensorFromProto(t));
  const nodes: GraphNode[] = g.node.map((n, i) => {
    const name = n.name || `${n.opType}_${i}`;
    if (n.domain && n.domain !== 'ai.onnx') {
      throw new ModelDecodeError(
        `node '${name}' uses op ${n.opType} from domain '${n.domain}', only the default ONNX domain is supported`,
      );
    }
    const attrs: Attrs = {};
    for (const a of n.attribute ?? []) attrs[a.name ?? ''] = attrFromProto(a, name);
    return { op: n.opType ?? '', name, inputs: [...(n.input ?? [])], outputs: [...(n.output ?? [])], attrs };
  });
  return {
    name: g.name || 'imported',
    opset: opset ? toNumber(opset.version ?? 0) : 0,
    inputs: (g.input ?? []).filter((v) => !initializers.has(v.name ?? '')).map(valueInfoFromProto),
    outputs: (g.output ?? []).map((v) => v.name ?? ''),
    nodes,
    initializers,
  };
}
