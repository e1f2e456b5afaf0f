import type { BatchRef } from '../membership/redistribution';

/**
 * Input of compute-gradient: which batch, for which step. The run's constants (model, dataset, partition,
 * batch size, seed) come from the run plan in the peer's Redis. No credentials.
 */
export interface ComputeGradientEvent {
  run: string;
  /** The step this gradient is for, and the function's index among the step's calls (its gradient key). */
  epoch: number;
  step: number;
  shard: number;
  /**
   * The batch to compute when it is not this peer's own shard `shard` at (epoch, step): a unit taken over
   * from a removed peer, or a catch-up batch of an earlier step.
   */
  batch?: BatchRef;
}

export interface ComputeGradientResult {
  loss: number;
  count: number;
  gradientKey: string;
  timings: { readMs: number; computeMs: number; writeMs: number; totalMs: number };
}

export interface EvaluateEvent {
  run: string;
  /** Samples per inference call. @default 1000, 250 for models over 1M parameters */
  chunk?: number;
}

export interface EvaluateResult {
  loss: number;
  accuracy: number;
  count: number;
  ms: number;
}

/**
 * Zeno's scores (Xie et al. 2019) of candidate gradients held in the calling peer's Redis, on a validation
 * batch drawn from that peer's own training partition: score_i = L(w) - L(w - lr g_i) - rho ||g_i||^2.
 */
export interface ZenoScoresEvent {
  run: string;
  epoch: number;
  step: number;
  /** Redis keys of the candidate gradients (this peer's Redis). */
  candidates: string[];
  lr: number;
  rho: number;
  /** Validation samples. */
  batch: number;
}

export interface ZenoScoresResult {
  scores: number[];
  /** L(w) and L(w - lr g_i), for the record. */
  baseLoss: number;
  losses: number[];
  ms: number;
}

export type FunctionName = 'compute-gradient' | 'evaluate' | 'zeno-scores';

export interface FunctionEvents {
  'compute-gradient': ComputeGradientEvent;
  evaluate: EvaluateEvent;
  'zeno-scores': ZenoScoresEvent;
}

export interface FunctionResults {
  'compute-gradient': ComputeGradientResult;
  evaluate: EvaluateResult;
  'zeno-scores': ZenoScoresResult;
}

/**
 * What a function call on AWS Lambda carries around its request: which peer it works for and how to reach
 * that peer's Redis. The credential is KMS ciphertext (base64) of `{"v":1,"username","password"}` under the
 * peer's key with the encryption context of `functionCredentialContext`: only that peer's function role can
 * open it. No secret travels in clear.
 */
export interface FunctionEnvelope<E = unknown> {
  v: 1;
  peer: string;
  redis: { host: string; port: number; tls?: boolean; ca?: string; credential: string };
  request: E;
}

/** The KMS encryption context of a peer's function credential (the deploy/ key policy checks it too). */
export function functionCredentialContext(peer: string): Record<string, string> {
  return { 'spirt:peer': peer, 'spirt:purpose': 'function-redis-credential' };
}
