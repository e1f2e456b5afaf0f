// summary.json of a run: pure functions over what every peer workflow returned (or last reported).
import type { RunConfig } from '../config/schema';
import type { EpochRecord, MembershipEvent, TrainingResult } from '../protocol/types';

/** How one peer's part of the run ended: its workflow's outcome, or `failed` when the workflow failed. */
export type PeerOutcomeKind = TrainingResult['outcome'] | 'failed';

/** What the CLI knows of one peer at the end of a run. */
export interface PeerEnd {
  peerId: string;
  /** Its epoch records (for a failed workflow: those of its last status answer). */
  history: EpochRecord[];
  membership: MembershipEvent[];
  outcome: PeerOutcomeKind;
  /** The workflow's end reason, or the failure message. */
  endReason: string | null;
}

export interface EpochSummary {
  epoch: number;
  /** Mean over the peers that have a record of this epoch. */
  trainLoss: number;
  testAccuracy: number | null;
  testLoss: number | null;
  /** Wall time of the epoch (slowest peer). */
  epochMs: number;
  /** Function compute time of the epoch (slowest peer). */
  computeMs: number;
  /** Per-phase totals of the epoch (slowest peer per phase), from EpochRecord.phaseMs; empty when no peer reports them. */
  phases: Record<string, number>;
}

export interface TrainingSummary {
  run: string;
  model: string;
  peers: number;
  epochs: number;
  batchSize: number;
  shardsPerPeer: number;
  learningRate: number;
  /** The aggregation rule, its f and the pre-aggregators. */
  aggregation: { rule: string; f: number; preAggregation: string[] };
  /** How samples were dealt to the peers (`sorted`: non-IID). */
  partition: string;
  /** Experiments: the Byzantine peers and their attacks. The only place a run labels a peer Byzantine. */
  byzantine: { peer: string; attack: string }[];
  testAccuracy: number | null;
  testLoss: number | null;
  /** Wall time of each epoch (slowest peer). */
  epochMs: number[];
  totalMs: number;
  perEpoch: EpochSummary[];
  workflowIds: string[];
  temporalUi: string;
  /** Every change of the active set, once each (the peers record the same events). */
  membership: MembershipEvent[];
  peerOutcomes: { peer: string; outcome: PeerOutcomeKind; endReason: string | null }[];
  /** The run's peers after applying every membership change. */
  finalActivePeers: string[];
}

export interface SummarizeInput {
  config: RunConfig;
  /** The peers the run started with, in rank order. */
  initialPeers: string[];
  peers: PeerEnd[];
  workflowIds: string[];
  temporalUi: string;
  totalMs: number;
}

export function summarize(input: SummarizeInput): TrainingSummary {
  const { config, peers } = input;
  const epochNumbers = [...new Set(peers.flatMap((p) => p.history.map((r) => r.epoch)))].sort((a, b) => a - b);
  const perEpoch = epochNumbers.map((epoch) =>
    summarizeEpoch(
      epoch,
      peers.map((p) => p.history.find((r) => r.epoch === epoch)).filter((r): r is EpochRecord => !!r),
    ),
  );
  const last = perEpoch[perEpoch.length - 1];
  const membership = mergeMembership(peers.map((p) => p.membership));
  return {
    run: config.run,
    model: config.model,
    peers: config.peers,
    epochs: config.epochs,
    batchSize: config.batchSize,
    shardsPerPeer: config.shardsPerPeer,
    learningRate: config.learningRate,
    aggregation: { rule: config.aggregation, f: config.byzantineF, preAggregation: config.preAggregation },
    partition: config.partition,
    byzantine: config.byzantine.map((b) => ({ ...b })),
    testAccuracy: last?.testAccuracy ?? null,
    testLoss: last?.testLoss ?? null,
    epochMs: perEpoch.map((e) => e.epochMs),
    totalMs: input.totalMs,
    perEpoch,
    workflowIds: input.workflowIds,
    temporalUi: input.temporalUi,
    membership,
    peerOutcomes: peers.map((p) => ({ peer: p.peerId, outcome: p.outcome, endReason: p.endReason })),
    finalActivePeers: applyMembership(input.initialPeers, membership),
  };
}

/** One epoch over the records of the peers that have it (at least one). */
export function summarizeEpoch(epoch: number, records: EpochRecord[]): EpochSummary {
  const accs = records.map((r) => r.testAccuracy).filter((a): a is number => a !== null);
  const losses = records.map((r) => r.testLoss).filter((a): a is number => a !== null);
  const phases: Record<string, number> = {};
  for (const r of records as RecordWithPhases[]) {
    for (const [phase, ms] of Object.entries(r.phaseMs ?? {})) phases[phase] = Math.max(phases[phase] ?? 0, ms);
  }
  return {
    epoch,
    trainLoss: mean(records.map((r) => r.trainLoss)) ?? NaN,
    testAccuracy: mean(accs),
    testLoss: mean(losses),
    epochMs: Math.max(0, ...records.map((r) => r.epochMs)),
    computeMs: Math.max(0, ...records.map((r) => r.computeMs ?? 0)),
    phases,
  };
}

/** `phaseMs` is optional: records written before it existed (older workers, stored histories) lack it. */
type RecordWithPhases = EpochRecord & { phaseMs?: Record<string, number> };

function mean(xs: number[]): number | null {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
}

/** Identity of a membership event: every surviving peer records the same change at the same step. */
export function membershipKey(e: MembershipEvent): string {
  return `${e.epoch}:${e.step}:${e.peer}:${e.change}`;
}

/** The union of several peers' membership events, once each, in (epoch, step) order. */
export function mergeMembership(lists: MembershipEvent[][]): MembershipEvent[] {
  const seen = new Map<string, MembershipEvent>();
  for (const list of lists) for (const e of list) if (!seen.has(membershipKey(e))) seen.set(membershipKey(e), e);
  // Array.prototype.sort is stable: events of one step keep the order the first peer recorded them in.
  return [...seen.values()].sort((a, b) => a.epoch - b.epoch || a.step - b.step);
}

/** The active set after applying `events` (in order) to `initial`; peer ids ordered p1, p2, ..., p10. */
export function applyMembership(initial: string[], events: MembershipEvent[]): string[] {
  const active = new Set(initial);
  for (const e of events) {
    if (e.change === 'removed') active.delete(e.peer);
    else active.add(e.peer);
  }
  return [...active].sort(comparePeerIds);
}

export function comparePeerIds(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}
