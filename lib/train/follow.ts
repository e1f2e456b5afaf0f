// Follows a run's peer workflows until every one has ended: live progress, epoch lines, membership changes,
// peers leaving. A peer that is removed or whose workflow fails leaves the run; the run fails only when all do.
import type { WorkflowHandle } from '@temporalio/client';
import { statusQuery } from '../../workflows/messages';
import type { EpochRecord, MembershipEvent, PeerStatus, TrainingResult } from '../protocol/types';
import { failureMessage } from './control';
import type { PeerProgress, ProgressDisplay } from './progress-display';
import { membershipLine } from './status-lines';
import { membershipKey, summarizeEpoch, type PeerEnd } from './summary';

export interface FollowedPeer {
  peerId: string;
  handle: WorkflowHandle;
}

interface PeerState extends FollowedPeer {
  status: PeerStatus | null;
  querying: boolean;
  end: PeerEnd | null;
}

/**
 * Polls every running peer's status each `pollMs` until every workflow has ended.
 * @returns how each peer ended (failed ones too, with the records of their last status answer)
 * @throws Error when every peer workflow failed
 */
export async function followRun(
  peers: FollowedPeer[],
  epochs: number,
  display: ProgressDisplay,
  pollMs: number,
): Promise<PeerEnd[]> {
  const states: PeerState[] = peers.map((p) => ({ ...p, status: null, querying: false, end: null }));
  const epochReporter = new EpochReporter(epochs);
  const seenMembership = new Set<string>();
  let wake: () => void = () => undefined;

  const report = (final: boolean) => {
    const events: MembershipEvent[] = states.flatMap((s) => s.end?.membership ?? s.status?.membership ?? []);
    for (const e of [...events].sort((a, b) => a.epoch - b.epoch || a.step - b.step)) {
      if (seenMembership.has(membershipKey(e))) continue;
      seenMembership.add(membershipKey(e));
      display.line(membershipLine(e));
    }
    for (const text of epochReporter.next(states.map(peerHistory), final)) display.line(text);
    display.update(states.map(progressOf));
  };

  for (const s of states) {
    s.handle.result().then(
      (r: TrainingResult) => {
        s.end = endFromResult(s.peerId, r);
        if (s.end.outcome === 'removed') display.line(`peer ${s.peerId} left the run: ${s.end.endReason ?? 'removed'}`);
        wake();
      },
      (err: unknown) => {
        const why = failureMessage(err);
        s.end = {
          peerId: s.peerId,
          history: s.status?.history ?? [],
          membership: s.status?.membership ?? [],
          outcome: 'failed',
          endReason: why,
        };
        if (states.some((o) => o.end?.outcome !== 'failed')) display.line(`peer ${s.peerId} left the run: ${why}`);
        wake();
      },
    );
  }

  try {
    while (states.some((s) => s.end === null)) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, pollMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      // One query in flight per peer: a peer whose worker is down (its query hangs) does not hold back the others.
      for (const s of states) {
        if (s.end !== null || s.querying) continue;
        s.querying = true;
        s.handle.query(statusQuery).then(
          (status) => {
            s.querying = false;
            if (s.end === null) s.status = status;
          },
          () => (s.querying = false),
        );
      }
      settleRemoved(states, display);
      report(false);
    }
    report(true);
  } finally {
    display.stop();
  }
  const ends = states.map((s) => s.end as PeerEnd);
  if (ends.every((e) => e.outcome === 'failed')) {
    const first = ends[0];
    throw new Error(`every peer workflow of the run failed; ${first.peerId}: ${first.endReason}`);
  }
  return ends;
}

/**
 * A peer whose workflow has not ended although every peer that finished the run removed it (its host died:
 * its workflow waits for a worker that will not come back): followed no longer, ended as removed.
 */
function settleRemoved(states: PeerState[], display: ProgressDisplay): void {
  const finished = states.filter((s) => s.end !== null && s.end.outcome !== 'failed' && s.end.outcome !== 'removed');
  if (finished.length === 0) return;
  for (const s of states) {
    if (s.end !== null) continue;
    const removedByAll = finished.every((f) => {
      const last = f.end!.membership.filter((e) => e.peer === s.peerId).at(-1);
      return last?.change === 'removed';
    });
    if (!removedByAll) continue;
    s.end = {
      peerId: s.peerId,
      history: s.status?.history ?? [],
      membership: s.status?.membership ?? [],
      outcome: 'removed',
      endReason: 'removed by the other peers; its own workflow has not ended (its host may be down)',
    };
    display.line(`peer ${s.peerId} left the run: ${s.end.endReason}`);
  }
}

function endFromResult(peerId: string, r: TrainingResult): PeerEnd {
  return {
    peerId,
    history: r.history ?? [],
    membership: r.membership ?? [],
    // Results of workers from before outcomes existed are plain completions.
    outcome: r.outcome ?? 'completed',
    endReason: r.endReason ?? null,
  };
}

function peerHistory(s: PeerState): { history: EpochRecord[]; running: boolean } {
  return { history: s.end?.history ?? s.status?.history ?? [], running: s.end === null };
}

function progressOf(s: PeerState): PeerProgress {
  let ended: string | null = null;
  if (s.end) {
    const reason = s.end.endReason ? `: ${s.end.endReason}` : '';
    ended =
      s.end.outcome === 'removed' || s.end.outcome === 'failed'
        ? `left the run${reason}`
        : `${s.end.outcome}${reason} (${s.end.history.length} epochs)`;
  }
  return { peerId: s.peerId, status: s.status, ended };
}

/**
 * Epoch lines in order, each once: an epoch is reported when every peer still running has its record
 * (peers that ended do not hold it back), or at the end of the run for every epoch any peer recorded.
 */
export class EpochReporter {
  private reported = 0;

  constructor(private readonly epochs: number) {}

  next(peers: { history: EpochRecord[]; running: boolean }[], final: boolean): string[] {
    const lines: string[] = [];
    const last = Math.max(this.epochs, ...peers.flatMap((p) => p.history.map((r) => r.epoch)));
    for (let epoch = this.reported + 1; epoch <= last; epoch++) {
      const records = peers.map((p) => p.history.find((r) => r.epoch === epoch));
      const have = records.filter((r): r is EpochRecord => !!r);
      const waiting = peers.some((p, i) => p.running && !records[i]);
      if (have.length === 0 || (waiting && !final)) {
        if (final) continue;
        break;
      }
      this.reported = epoch;
      lines.push(epochLine(epoch, this.epochs, have));
    }
    return lines;
  }
}

/** `epoch 3/3  train loss 0.0800  test accuracy 0.9798  35.5 s` over the records of the peers that have it. */
export function epochLine(epoch: number, epochs: number, records: EpochRecord[]): string {
  const e = summarizeEpoch(epoch, records);
  const acc = e.testAccuracy === null ? '-' : e.testAccuracy.toFixed(4);
  return `epoch ${epoch}/${epochs}  train loss ${e.trainLoss.toFixed(4)}  test accuracy ${acc}  ${(e.epochMs / 1000).toFixed(1)} s`;
}
