import { TensorError } from '../errors/tensor-error';

/** One tensor inside a flat float32 vector. */
export interface LayoutEntry {
  name: string;
  shape: number[];
  offset: number;
  size: number;
}

/** All tensors of one kind (trainable parameters, or buffers) packed back to back in one float32 vector. */
export interface ParamLayout {
  entries: LayoutEntry[];
  size: number;
}

/** Packs tensors in the given order without padding. */
export function makeLayout(specs: { name: string; shape: number[] }[]): ParamLayout {
  let offset = 0;
  const entries = specs.map((s) => {
    const size = s.shape.reduce((p, d) => p * d, 1);
    const e = { name: s.name, shape: [...s.shape], offset, size };
    offset += size;
    return e;
  });
  return { entries, size: offset };
}

/** Alias of makeLayout (the foundation's name). */
export const buildLayout = makeLayout;

/**
 * Views (no copies) of every entry of a flat vector, by name.
 * @throws {TensorError} the vector's length does not match the layout
 */
export function sliceLayout(layout: ParamLayout, flat: Float32Array): Map<string, Float32Array> {
  if (flat.length !== layout.size) {
    throw new TensorError(`flat vector has ${flat.length} floats, the layout needs ${layout.size}`);
  }
  return new Map(layout.entries.map((e) => [e.name, flat.subarray(e.offset, e.offset + e.size)]));
}
