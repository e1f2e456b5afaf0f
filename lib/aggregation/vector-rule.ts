import { ConfigError } from '../errors/config-error';
import type { Gram } from './gram';

/**
 * A robust rule that decides from the inputs' Gram matrix alone: its output is sum_i w_i g_i with the
 * weights it returns (ARCHITECTURE.md section 7).
 */
export interface VectorRule {
  readonly name: string;
  /** @throws ConfigError when the rule is not defined for n inputs (its precondition on n and f). */
  check(n: number): void;
  /**
   * True for a rule that starts from a point outside the inputs (centered clipping): `weights` then gets the
   * Gram matrix of the n inputs followed by that point (n + 1 vectors) and returns n + 1 weights.
   */
  readonly anchored?: boolean;
  weights(g: Gram): number[];
}

/**
 * A pre-aggregator: it replaces the n inputs by n new ones, each a linear combination of the inputs (row i of
 * the returned matrix), in front of any rule.
 */
export interface PreAggregator {
  readonly name: string;
  check(n: number): void;
  mix(g: Gram): number[][];
}

/** @throws ConfigError unless f is a non-negative integer and n satisfies `ok`, described by `rule`. */
export function requirePeers(name: string, n: number, f: number, min: number, rule: string): void {
  if (!Number.isInteger(f) || f < 0) throw new ConfigError(`${name}: f must be a non-negative integer, got ${f}`);
  if (n < min) throw new ConfigError(`${name} needs ${rule}: with f = ${f} at least ${min} inputs, got ${n}`);
}

/** Indices 0..n-1 sorted by `key` ascending; ties keep the lower index first (stable). */
export function orderBy(n: number, key: (i: number) => number): number[] {
  return Array.from({ length: n }, (_, i) => i).sort((a, b) => key(a) - key(b) || a - b);
}
