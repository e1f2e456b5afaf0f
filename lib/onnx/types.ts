/** Core types of the in-memory graph IR that the builder, shape inference, autodiff and serializer share. */

/** Element types the project uses. The names follow onnxruntime's tensor type names. */
export type DType = 'float32' | 'float64' | 'int64' | 'int32' | 'uint8' | 'bool';

/** A dimension: a static size, or a symbolic name (the batch dimension is `N`). */
export type Dim = number | string;

export type Shape = Dim[];

export interface ValueInfo {
  name: string;
  dtype: DType;
  shape: Shape;
}

export type TensorValues = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;

/** A constant tensor (initializer or attribute value). */
export interface ConstTensor {
  dtype: DType;
  dims: number[];
  data: TensorValues;
}

/** One ONNX attribute, tagged with its ONNX kind so int and float attributes never get confused. */
export type Attr =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'ints'; value: number[] }
  | { kind: 'floats'; value: number[] }
  | { kind: 'string'; value: string }
  | { kind: 'tensor'; value: ConstTensor };

export type Attrs = Record<string, Attr>;

export interface GraphNode {
  op: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attrs: Attrs;
}

export const attr = {
  int: (value: number): Attr => ({ kind: 'int', value }),
  float: (value: number): Attr => ({ kind: 'float', value }),
  ints: (value: number[]): Attr => ({ kind: 'ints', value }),
  floats: (value: number[]): Attr => ({ kind: 'floats', value }),
  string: (value: string): Attr => ({ kind: 'string', value }),
  tensor: (value: ConstTensor): Attr => ({ kind: 'tensor', value }),
};

/** Number of elements of a static shape; throws on symbolic dimensions. */
export function staticSize(shape: Shape): number {
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number') throw new Error(`shape [${shape.join(', ')}] is not static`);
    n *= d;
  }
  return n;
}

export function isStatic(shape: Shape): shape is number[] {
  return shape.every((d) => typeof d === 'number');
}

export function formatShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}
