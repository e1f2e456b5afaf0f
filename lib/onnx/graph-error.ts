/** A graph that cannot be built, inferred or differentiated (bad shapes, bad attributes, unknown values). */
export class GraphError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GraphError';
  }
}
