// Error types a retry cannot fix. Derived from the error classes (their `name`), so a renamed class
// cannot silently fall out of the list. Pure: imported by workflow code.
import { EngineError } from '../engine/engine-error';
import { ConfigError } from '../errors/config-error';
import { DataError } from '../errors/data-error';
import { FunctionConfigError } from '../errors/function-config-error';
import { TensorError } from '../errors/tensor-error';
import { UnknownModelError } from '../models/unknown-model-error';
import { GraphError } from '../onnx/graph-error';
import { ModelDecodeError } from '../onnx/model-decode-error';
import { UnsupportedOpError } from '../onnx/unsupported-op-error';

export const NON_RETRYABLE_ERROR_CLASSES = [
  ConfigError,
  TensorError,
  DataError,
  UnknownModelError,
  EngineError,
  GraphError,
  ModelDecodeError,
  UnsupportedOpError,
  FunctionConfigError,
] as const;

/** `nonRetryableErrorTypes` of every activity: bad input never gets better by retrying. A function on AWS
 * Lambda that is missing or misconfigured fails with `FunctionConfigError` (lib/invoker/lambda.ts). */
export const nonRetryableErrorTypes: string[] = NON_RETRYABLE_ERROR_CLASSES.map((E) => E.name);

/**
 * How every activity is retried (workflows/activity-proxies.ts), and each function call inside the fused step
 * (activities/fused-step.ts), so that both paths retry a failed call the same way.
 */
export const RETRY = { maximumAttempts: 5, initialIntervalMs: 200, backoffCoefficient: 2 } as const;
