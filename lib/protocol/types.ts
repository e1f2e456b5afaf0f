import type { AttackSpec } from '../attacks/attacks';
// Plain-JSON types that cross the workflow boundary. No Maps, no typed arrays, no secrets:
// everything here is stored forever in workflow history.
import type { RunConfig } from '../config/schema';
import type { BatchRef, UnitOwners } from '../membership/redistribution';

/** A peer as the protocol sees it. Credentials never appear here; workers resolve them locally. */
export interface PeerRef {
  id: string;
  rank: number;
  /** Redis address of the peer, `host:port` (no password), when known. */
  redis?: string;
}

export interface EpochRecord {
  epoch: number;
  /** Steps run in this epoch (stepsPerEpoch, or fewer when the run stopped inside it). */
  steps: number;
  /** Sample-weighted mean training loss of this peer's shards over the epoch. */
  trainLoss: number;
  testLoss: number | null;
  testAccuracy: number | null;
  epochMs: number;
  /** Time the epoch's critical path spent in gradient functions (the compute phase). */
  computeMs: number;
  /** Per-phase totals over the epoch's steps (compute, average, probe, publish, barrier, agree, fetch, aggregate, update, evaluate). */
  phaseMs: Record<string, number>;
  /** Active peers at the end of the epoch. */
  activePeers: string[];
  /** Function calls per step at the end of the epoch (grows when this peer takes over a removed peer's data). */
  parallelism: number;
}

/** State carried from one workflow run to the next through continueAsNew. Plain JSON. */
export interface PeerTrainingState {
  kind: 'state';
  run: string;
  peerId: string;
  /** Every peer of the run by rank (`peers[r].rank === r`), active or not. */
  peers: PeerRef[];
  config: RunConfig;
  /** 1-based epoch this run works on. */
  epoch: number;
  /** 0-based next step inside the epoch (non-zero only after a mid-epoch continueAsNew). */
  step: number;
  /** Stream position for the sync barrier (an XRANGE start argument). */
  syncCursor: string;
  history: EpochRecord[];
  /**
   * How many data partitions the run has: its first peers' count (units are (rank, shard) with rank below
   * it). Peers listed after them joined later and own units only by redistribution. @default peers.length
   */
  partitions?: number;
  /** Experiments only: this peer's attack (it is Byzantine); no other peer is told. */
  attack?: AttackSpec;
  /** The agreed active set, in rank order. */
  active: string[];
  /** Agreed removals and admissions, in order. */
  membership: MembershipEvent[];
  /** Who computes each unit (shard of a rank's partition) in this epoch. */
  owners: UnitOwners;
  /** Batches of removed peers this peer computes at its next step. */
  catchUp: BatchRef[];
  /** Peers whose gradient this peer did not aggregate lately: the first (epoch, step) of the streak. */
  missing: Record<string, [number, number]>;
  /** Peers an operator removed (removePeer signal): suspected whatever the failure detector says. */
  operatorRemoved: string[];
  /** Peers to admit at the next epoch boundary (addPeer signal). */
  pendingAdds: string[];
  /**
   * Peers an addPeer signal named while they were active and not leaving (their old workflow ended without a
   * removal this peer knows of yet): queued in pendingAdds once they leave, by an operator's removal, a
   * departure notice or the agreement. Absent in runs started before it existed.
   */
  deferredAdds?: string[];
  /**
   * Barriers in a row that timed out without a peer's ready, by peer (reset when it is heard): at
   * SILENT_BARRIERS this peer votes it out. Absent in runs started before it existed.
   */
  silent?: Record<string, number>;
  /** Why this peer was asked to stop (stop signal, convergence), or null. */
  stopRequested: string | null;
  /** The latest peer gradients left out of an aggregation (unreachable, bad signature), newest last, at most 20. */
  dropped?: DroppedInput[];
  /** This peer asked to (re)join a running network: it waits for an active peer to admit it. */
  joining?: boolean;
  /** (epoch, step) from which this peer is active (0,0, or when it was readmitted): older removal notices are void. */
  activeSince?: [number, number];
  /** Convergence checks so far: (epoch, test loss, test accuracy). */
  checks: { epoch: number; loss: number; accuracy: number }[];
  /** Partial accumulators of the current epoch, carried across a mid-epoch continueAsNew. */
  partial?: { lossSum: number; samples: number; computeMs: number; startedAt: number; phaseMs: Record<string, number> };
  /** Dataset facts, learned once by the first run. */
  dataset?: { trainCount: number; testCount: number; stepsPerEpoch: number };
  /** Whether the model has non-trainable buffers (batch-norm statistics) to average. */
  hasBuffers?: boolean;
  /** The last step's working tensors, deleted by the next step's update (ApplyUpdateInput.release). */
  releasable?: StepRelease;
}

/**
 * A step's working tensors in a peer's Redis: its shard gradients (and buffers), its copies of other peers'
 * gradients, and its aggregate; and the published average (and buffers, signature) of the step before it.
 * A step's release goes with the next step's update. By the update of step s + 1, every peer that was not
 * suspected has announced ready for s + 1, so it has fetched the averages of s - 1 (and of s) long before.
 */
export interface StepRelease {
  epoch: number;
  step: number;
  /** Function calls of the step. */
  shards: number;
  /** Other peers whose gradients were copied here. */
  peers: string[];
  /** (epoch, step) of the step before, whose published average goes too. */
  published?: [number, number];
}

/** The release of a step that follows `previous` (the release the step's own update carries). */
export function nextRelease(
  previous: StepRelease | null | undefined,
  release: Omit<StepRelease, 'published'>,
): StepRelease {
  return previous ? { ...release, published: [previous.epoch, previous.step] } : release;
}

/**
 * What a user passes to start one peer by hand (`temporal workflow start --input '{...}'`): the run id, this
 * peer's id, the peers (a count, ids p1..pN by rank, or the ids in rank order) and any run config field;
 * everything else gets its default.
 */
export interface PeerTrainingStart {
  run: string;
  peer: string;
  peers?: number | string[];
  /** Rejoin a running run: wait to be admitted (after `addPeer` signals to the active peers). */
  join?: boolean;
  /** Data partitions of the run (its first peers' count) when `peers` also lists peers that joined later. */
  partitions?: number;
  /** Experiments only: this peer's attack (it is Byzantine). */
  attack?: AttackSpec;
  [configField: string]: unknown;
}

export type PeerTrainingInput = PeerTrainingStart | PeerTrainingState;

/** One change of the active set, recorded identically by every surviving peer. */
export interface MembershipEvent {
  /** Epoch and step at whose agreement the change took effect. */
  epoch: number;
  step: number;
  peer: string;
  change: 'removed' | 'added';
  /** Why: `suspected by p1,p3 (redis unreachable)`, `removed by operator`, `readmitted by operator`, `joined through the handshake`. */
  reason: string;
}

/** Durations of one step's phases in milliseconds (compute, average, probe, publish, barrier, agree, fetch, aggregate, update). */
export type StepTimings = Record<string, number>;

/** A peer's gradient left out of one step's aggregation. */
export interface DroppedInput {
  epoch: number;
  step: number;
  peer: string;
  /** `unreachable: ...`, `key ... is gone`, `bad signature`, `gradient bytes do not match ... (tampered)`. */
  reason: string;
}

export interface PeerStatus {
  run: string;
  peerId: string;
  epoch: number;
  epochs: number;
  step: number;
  stepsPerEpoch: number;
  /** starting | prepare | compute | average | probe | publish | barrier | agree | fetch | aggregate | update | evaluate | next-epoch | done | removed | stopped */
  phase: string;
  /** Active peers in rank order (this peer included while it is active). */
  active: string[];
  /** Peers this peer currently suspects (not waited for at the barrier). */
  suspected: string[];
  membership: MembershipEvent[];
  lastLoss: number | null;
  lastAccuracy: number | null;
  /** Phase durations of the last completed step. */
  lastStep: StepTimings | null;
  /** The latest peer gradients left out of an aggregation, and why (newest last). */
  dropped: DroppedInput[];
  history: EpochRecord[];
  done: boolean;
  /** Why the peer's run ended early (removed, stopped, converged), when it did. */
  endReason: string | null;
}

export interface TrainingResult {
  run: string;
  peerId: string;
  /** Epochs completed. */
  epochs: number;
  history: EpochRecord[];
  membership: MembershipEvent[];
  /** `completed`, `converged`, `stopped` (stopSignal) or `removed` (this peer left the active set). */
  outcome: 'completed' | 'converged' | 'stopped' | 'removed';
  endReason: string | null;
}
