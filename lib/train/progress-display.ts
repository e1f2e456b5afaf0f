// Where a followed run's progress goes: live lines redrawn in place on a terminal, or plain lines in a log.
import { Format, MultiBar, type SingleBar } from 'cli-progress';
import type { PeerStatus } from '../protocol/types';
import { displayStep, fmt, peerProgressText } from './status-lines';

/** What the follower knows of one peer right now. */
export interface PeerProgress {
  peerId: string;
  /** Its last status answer (null before the first). */
  status: PeerStatus | null;
  /** How its workflow ended (`completed`, `left the run: ...`), null while it runs. */
  ended: string | null;
}

export interface ProgressDisplay {
  /** A line of its own (epoch summary, membership change, a peer leaving), kept above any live lines. */
  line(text: string): void;
  /** The latest state of every followed peer. */
  update(peers: PeerProgress[]): void;
  /** Leaves the last state on screen and releases the terminal. */
  stop(): void;
}

/**
 * For logs and pipes: every line as it comes, and at most every `everyMs` one line on the slowest running
 * peer (`  epoch 2/3 step 14/30 (slowest peer p3, barrier) loss 0.1234`).
 */
export class PlainProgressDisplay implements ProgressDisplay {
  private lastProgressLine = 0;

  constructor(
    private readonly say: (line: string) => void,
    private readonly everyMs = 5000,
  ) {}

  line(text: string): void {
    this.say(text);
  }

  update(peers: PeerProgress[]): void {
    const running = peers.filter((p) => p.ended === null && p.status !== null).map((p) => p.status as PeerStatus);
    if (running.length === 0 || Date.now() - this.lastProgressLine < this.everyMs) return;
    this.lastProgressLine = Date.now();
    const slowest = running.reduce((a, b) => (a.epoch * 1e6 + a.step <= b.epoch * 1e6 + b.step ? a : b));
    if (slowest.stepsPerEpoch > 0) {
      this.say(
        `  epoch ${slowest.epoch}/${slowest.epochs} step ${displayStep(slowest)}/${slowest.stepsPerEpoch} (slowest peer ${slowest.peerId}, ${slowest.phase}) loss ${fmt(slowest.lastLoss)}`,
      );
    }
  }

  stop(): void {}
}

/**
 * For a terminal: one line per peer (a step bar, epoch, phase, last loss, active peers), redrawn in place
 * by cli-progress; other lines are printed above them.
 */
export class LiveProgressDisplay implements ProgressDisplay {
  private readonly multibar: MultiBar;
  private readonly bars = new Map<string, SingleBar>();
  private stopped = false;

  constructor(private readonly stream: NodeJS.WriteStream = process.stdout) {
    this.multibar = new MultiBar({
      stream,
      fps: 5,
      barsize: 16,
      hideCursor: true,
      clearOnComplete: false,
      barCompleteChar: '#',
      barIncompleteChar: '.',
      format: (options, params, payload: { text: string; peerId: string; showBar: boolean }) => {
        const bar = payload.showBar ? `[${Format.BarFormat(params.progress, options)}] ` : '';
        return `${payload.peerId.padEnd(4)} ${bar}${payload.text}`;
      },
    });
  }

  line(text: string): void {
    if (this.bars.size === 0 || this.stopped) this.stream.write(text + '\n');
    else this.multibar.log(text + '\n');
  }

  update(peers: PeerProgress[]): void {
    if (this.stopped) return;
    for (const p of peers) {
      const s = p.status;
      const text = p.ended ?? (s ? peerProgressText(s) : 'starting');
      const total = Math.max(1, s?.stepsPerEpoch ?? 1);
      const value = s && p.ended === null ? Math.min(s.step, total) : total;
      const payload = { text, peerId: p.peerId, showBar: p.ended === null && !!s && s.stepsPerEpoch > 0 };
      let bar = this.bars.get(p.peerId);
      if (!bar) {
        bar = this.multibar.create(total, value, payload);
        this.bars.set(p.peerId, bar);
      } else {
        bar.setTotal(total);
        bar.update(value, payload);
      }
    }
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    // MultiBar.stop() drops lines still waiting for the next redraw: draw once more first.
    if (this.bars.size > 0) this.multibar.update();
    this.multibar.stop();
  }
}
