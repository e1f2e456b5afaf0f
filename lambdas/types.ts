import type { DatasetSource } from '../lib/data/dataset';

/** Input of compute-gradient: which batch of which shard, for which step. No credentials. */
export interface ComputeGradientEvent {
  run: string;
  peerId: string;
  model: string;
  dataset: DatasetSource;
  trainLimit?: number;
  peers: number;
  rank: number;
  shards: number;
  shard: number;
  epoch: number;
  step: number;
  batchSize: number;
  seed: number;
  ttlSeconds: number;
}

export interface ComputeGradientResult {
  loss: number;
  count: number;
  gradientKey: string;
  timings: { readMs: number; computeMs: number; writeMs: number; totalMs: number };
}

export interface EvaluateEvent {
  run: string;
  peerId: string;
  model: string;
  dataset: DatasetSource;
  testLimit?: number;
  /** Samples per inference call. @default 1000, 250 for models over 1M parameters */
  chunk?: number;
}

export interface EvaluateResult {
  loss: number;
  accuracy: number;
  count: number;
  ms: number;
}

export type FunctionName = 'compute-gradient' | 'evaluate';

export interface FunctionEvents {
  'compute-gradient': ComputeGradientEvent;
  evaluate: EvaluateEvent;
}

export interface FunctionResults {
  'compute-gradient': ComputeGradientResult;
  evaluate: EvaluateResult;
}
