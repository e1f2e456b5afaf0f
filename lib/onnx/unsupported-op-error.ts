/** An op (or an attribute combination of an op) that the autodiff or shape inference does not cover. */
export class UnsupportedOpError extends Error {
  constructor(
    readonly op: string,
    readonly node: string,
    detail?: string,
  ) {
    super(`unsupported op ${op} at node '${node}'${detail ? `: ${detail}` : ''}`);
    this.name = 'UnsupportedOpError';
  }
}
