/** Invalid input to the training engine: a parameter or buffer vector of the wrong length, a bad batch. */
export class EngineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EngineError';
  }
}
