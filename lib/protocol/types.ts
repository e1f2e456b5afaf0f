// Plain-JSON types that cross the workflow boundary. No Maps, no typed arrays, no secrets:
// everything here is stored forever in workflow history.
import type { RunConfig } from '../config/schema';

/** A peer as the protocol sees it. Credentials never appear here; workers resolve them locally. */
export interface PeerRef {
  id: string;
  rank: number;
  /** Redis address of the peer, `host:port` (no password). */
  redis: string;
}

export interface EpochRecord {
  epoch: number;
  steps: number;
  /** Sample-weighted mean training loss of this peer's shards over the epoch. */
  trainLoss: number;
  testLoss: number | null;
  testAccuracy: number | null;
  epochMs: number;
  computeMs: number;
  activePeers: string[];
}

/** State carried from one workflow run to the next through continueAsNew. */
export interface PeerTrainingState {
  run: string;
  peerId: string;
  peers: PeerRef[];
  config: RunConfig;
  /** 1-based epoch this run works on. */
  epoch: number;
  /** 0-based next step inside the epoch (non-zero only after a mid-epoch continueAsNew). */
  step: number;
  /** Stream position for the sync barrier (an XRANGE start argument). */
  syncCursor: string;
  history: EpochRecord[];
  /** Partial accumulators of the current epoch, carried across a mid-epoch continueAsNew. */
  partial?: { lossSum: number; samples: number; computeMs: number; startedAt: number };
  /** Dataset facts, learned once by the first run. */
  dataset?: { trainCount: number; testCount: number; stepsPerEpoch: number };
  /** Whether the model has non-trainable buffers (batch-norm statistics) to average. */
  hasBuffers?: boolean;
}

export interface PeerStatus {
  run: string;
  peerId: string;
  epoch: number;
  epochs: number;
  step: number;
  stepsPerEpoch: number;
  phase: string;
  lastLoss: number | null;
  history: EpochRecord[];
  done: boolean;
}

export interface TrainingResult {
  run: string;
  peerId: string;
  epochs: number;
  history: EpochRecord[];
}
