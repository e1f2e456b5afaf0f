import { GraphError } from './graph-error';
import type { Attrs } from './types';

/** Integer-list attribute with a default. */
export function intsAttr(attrs: Attrs, name: string, fallback: number[]): number[] {
  const a = attrs[name];
  if (!a) return fallback;
  if (a.kind !== 'ints') throw new GraphError(`attribute ${name} must be a list of ints`);
  return a.value;
}

export function intAttr(attrs: Attrs, name: string, fallback: number): number {
  const a = attrs[name];
  if (!a) return fallback;
  if (a.kind !== 'int') throw new GraphError(`attribute ${name} must be an int`);
  return a.value;
}

export function floatAttr(attrs: Attrs, name: string, fallback: number): number {
  const a = attrs[name];
  if (!a) return fallback;
  if (a.kind !== 'float' && a.kind !== 'int') throw new GraphError(`attribute ${name} must be a float`);
  return a.value;
}

export function stringAttr(attrs: Attrs, name: string, fallback: string): string {
  const a = attrs[name];
  if (!a) return fallback;
  if (a.kind !== 'string') throw new GraphError(`attribute ${name} must be a string`);
  return a.value;
}

/** Resolved geometry of a 2-D (or N-D) sliding window op: explicit pads, strides, dilations, kernel. */
export interface WindowGeometry {
  kernel: number[];
  strides: number[];
  dilations: number[];
  /** [begin_0, begin_1, ..., end_0, end_1, ...] as in ONNX. */
  pads: number[];
  /** Output spatial sizes. */
  out: number[];
}

/**
 * Resolves auto_pad / pads / strides / dilations of Conv, MaxPool and AveragePool for known spatial input
 * sizes. `ceilMode` follows the pooling semantics (a window must start inside the input or its begin padding).
 */
export function windowGeometry(attrs: Attrs, spatial: number[], kernel: number[], ceilMode = false): WindowGeometry {
  const r = spatial.length;
  const strides = intsAttr(attrs, 'strides', new Array<number>(r).fill(1));
  const dilations = intsAttr(attrs, 'dilations', new Array<number>(r).fill(1));
  const autoPad = stringAttr(attrs, 'auto_pad', 'NOTSET');
  let pads = intsAttr(attrs, 'pads', new Array<number>(2 * r).fill(0));
  if (strides.length !== r || dilations.length !== r || pads.length !== 2 * r || kernel.length !== r) {
    throw new GraphError(`window attributes do not match ${r} spatial dimensions`);
  }
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    pads = new Array<number>(2 * r).fill(0);
    for (let i = 0; i < r; i++) {
      const out = Math.ceil(spatial[i] / strides[i]);
      const total = Math.max(0, (out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - spatial[i]);
      const small = Math.floor(total / 2);
      pads[i] = autoPad === 'SAME_UPPER' ? small : total - small;
      pads[i + r] = total - pads[i];
    }
  } else if (autoPad === 'VALID') {
    pads = new Array<number>(2 * r).fill(0);
  } else if (autoPad !== 'NOTSET') {
    throw new GraphError(`unknown auto_pad ${autoPad}`);
  }
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const span = spatial[i] + pads[i] + pads[i + r] - ((kernel[i] - 1) * dilations[i] + 1);
    if (span < 0) throw new GraphError(`window of extent ${kernel[i]} does not fit input size ${spatial[i]}`);
    let o = (ceilMode ? Math.ceil(span / strides[i]) : Math.floor(span / strides[i])) + 1;
    if (ceilMode && (o - 1) * strides[i] >= spatial[i] + pads[i]) o -= 1;
    out.push(o);
  }
  return { kernel, strides, dilations, pads, out };
}
