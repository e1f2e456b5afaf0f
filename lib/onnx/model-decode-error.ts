/** A file or buffer that is not a readable ONNX model (truncated, corrupt, or using unsupported features). */
export class ModelDecodeError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ModelDecodeError';
  }
}
