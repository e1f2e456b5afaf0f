/**
 * A function on AWS Lambda is missing or misconfigured (not found, access denied, bad payload): a retry
 * cannot fix it (lib/invoker/lambda.ts).
 */
export class FunctionConfigError extends Error {
  override name = 'FunctionConfigError';
}
