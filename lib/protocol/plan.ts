import type { RobustConfig } from '../aggregation/rule';
import type { AttackSpec } from '../attacks/attacks';
import type { DatasetSource } from '../data/dataset';

/**
 * Everything about a run that does not change between steps, written once into each peer's Redis by
 * preparePeer (key `spirt:<run>:plan`). Functions and activities read it from there, so a function call
 * carries only `{run, epoch, step, shard}` and Temporal history holds no per-shard constants.
 */
export interface RunPlan {
  run: string;
  model: string;
  dataset: DatasetSource;
  trainLimit?: number;
  testLimit?: number;
  /** Peers the data is partitioned over (the run's original ranks). */
  peers: number;
  /** The peer this plan belongs to (its shard gradient keys carry it). */
  peer?: string;
  /** This peer's rank: the partition its own shards come from. */
  rank: number;
  shardsPerPeer: number;
  batchSize: number;
  seed: number;
  /** TTL of per-step gradient keys. */
  ttlSeconds: number;
  /** In-database path: 'auto' | 'module' | 'lua' | 'client'. */
  path: 'auto' | 'module' | 'lua' | 'client';
  trainCount: number;
  testCount: number;
  stepsPerEpoch: number;
  hasBuffers: boolean;
  /** How samples are dealt to partitions (`sorted`: by label, non-IID). @default 'iid' */
  partition?: 'iid' | 'sorted';
  /** The aggregation rule and its parameters. @default mean */
  robust?: RobustConfig;
  /** Experiments only: this peer is Byzantine and alters what it publishes (lib/attacks). */
  attack?: AttackSpec;
}
