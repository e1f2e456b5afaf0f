// How a peer's progress and the run's membership changes read on a terminal (pure).
import type { MembershipEvent, PeerStatus } from '../protocol/types';
import type { PeerReport, RunStatus, SignalReport } from './control';

/** Four decimals, or `-` for a missing or non-finite number. */
export function fmt(x: number | null | undefined): string {
  return x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(4);
}

/** The step being worked on, 1-based, for display (`PeerStatus.step` is the 0-based next step). */
export function displayStep(status: Pick<PeerStatus, 'step' | 'stepsPerEpoch'>): number {
  return Math.min(status.step + 1, Math.max(1, status.stepsPerEpoch));
}

/** `epoch 2/3  step 14/30  compute    loss 0.1234  accuracy 0.9700  active 4  suspected p3`. */
export function peerProgressText(s: PeerStatus): string {
  const parts = [
    `epoch ${s.epoch}/${s.epochs}`,
    s.stepsPerEpoch > 0 ? `step ${displayStep(s)}/${s.stepsPerEpoch}` : 'step -',
    (s.phase ?? '-').padEnd(10),
    `loss ${fmt(s.lastLoss)}`,
    `accuracy ${fmt(s.lastAccuracy)}`,
    `active ${s.active?.length ?? '-'}`,
  ];
  if (s.suspected?.length) parts.push(`suspected ${s.suspected.join(',')}`);
  return parts.join('  ');
}

/** `membership: epoch 2 step 5: p2 removed (removed by operator)`. Steps read 1-based, as in progress lines. */
export function membershipLine(e: MembershipEvent): string {
  return `membership: epoch ${e.epoch} step ${e.step + 1}: ${e.peer} ${e.change}${e.reason ? ` (${e.reason})` : ''}`;
}

/** One line per peer of a run, then its membership changes. */
export function runStatusLines(status: RunStatus): string[] {
  const lines = status.peers.map((p) => `${p.peerId.padEnd(4)} ${peerReportText(p)}`);
  if (status.membership.length === 0) lines.push('membership: no changes');
  else lines.push(...status.membership.map(membershipLine));
  return lines;
}

function peerReportText(p: PeerReport): string {
  if (p.state === 'running') {
    return p.peerStatus ? peerProgressText(p.peerStatus) : `running; no status: ${p.error ?? 'no answer'}`;
  }
  if (p.state === 'failed') return `failed: ${p.error}`;
  const r = p.result;
  const last = r.history?.[r.history.length - 1];
  const parts = [`${r.outcome ?? 'completed'}${r.endReason ? ` (${r.endReason})` : ''}`, `epochs ${r.epochs}`];
  if (last) parts.push(`train loss ${fmt(last.trainLoss)}`, `test accuracy ${fmt(last.testAccuracy)}`);
  return parts.join('  ');
}

/** `sent stop {"reason":"operator"} to spirt-r1-p1, spirt-r1-p2 (run r1)`. */
export function signalReportLine(signal: string, payload: unknown, report: SignalReport): string {
  const closed = report.closed.length ? `; already closed: ${report.closed.join(', ')}` : '';
  return `sent ${signal} ${JSON.stringify(payload)} to ${report.signalled.join(', ')} (run ${report.run})${closed}`;
}
