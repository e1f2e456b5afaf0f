import type { FunctionEvents, FunctionName, FunctionResults } from '../protocol/functions';

/** Runs stateless functions: a local thread pool by default, AWS Lambda in the cloud. */
export interface Invoker {
  invoke<K extends FunctionName>(fn: K, event: FunctionEvents[K]): Promise<FunctionResults[K]>;
  close(): Promise<void>;
}

/** An error raised inside a function, with the function's own error name kept. */
export class FunctionError extends Error {
  override name: string;
  constructor(
    readonly functionName: string,
    readonly errorName: string,
    message: string,
  ) {
    super(message);
    this.name = errorName;
  }
}
