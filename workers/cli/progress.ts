// How train and demo show a followed run: live lines on a terminal, plain lines otherwise.
import { LiveProgressDisplay, type ProgressDisplay } from '../../lib/train/progress-display';
import type { TrainingSummary } from '../../lib/train/summary';
import { say } from './common';

/** A live display when stdout is a terminal; undefined (plain lines) otherwise. */
export function progressDisplay(): ProgressDisplay | undefined {
  return process.stdout.isTTY ? new LiveProgressDisplay(process.stdout) : undefined;
}

export function reportDone({ summary, summaryPath }: { summary: TrainingSummary; summaryPath: string }): void {
  const accuracy = summary.testAccuracy === null ? '-' : summary.testAccuracy.toFixed(4);
  say(`done: test accuracy ${accuracy} after ${summary.perEpoch.length} epochs`);
  const left = summary.peerOutcomes.filter((p) => p.outcome === 'removed' || p.outcome === 'failed');
  if (left.length > 0)
    say(
      `peers that left the run: ${left.map((p) => p.peer).join(', ')}; active at the end: ${summary.finalActivePeers.join(', ')}`,
    );
  say(`summary: ${summaryPath}`);
}
