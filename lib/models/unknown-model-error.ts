/** A model name that is not in the zoo. */
export class UnknownModelError extends Error {
  constructor(
    readonly model: string,
    known: readonly string[],
  ) {
    super(`unknown model '${model}' (known: ${known.join(', ')})`);
    this.name = 'UnknownModelError';
  }
}
