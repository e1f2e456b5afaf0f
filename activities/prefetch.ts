// Copies the other peers' gradients of a step into this peer's Redis as soon as each announces ready, while
// this peer still computes or waits at the barrier: the fetch after the barrier then finds them in place and
// has only the last peer's left to copy. It only warms what fetchPeerGradients would do (same copy, same
// signature check); a copy that fails here is simply done (and its failure reported) by the fetch.
import { decodeSync } from '../lib/protocol/sync-message';
import { runKeys } from '../lib/redis/keys';
import { trace } from '../lib/log/trace';
import type { ActivityDeps } from './deps';
import { withTimeout } from '../lib/errors/timeout';
import { copyPeerGradient, FETCH_TIMEOUT_MS } from './fetch-peer-gradients';
import { loadPlan } from './run-plan';

export interface PrefetchInput {
  run: string;
  epoch: number;
  step: number;
  /** The other active peers. */
  peers: string[];
  /** The sync stream position of the step's barrier (`-` or `(id`): ready messages come after it. */
  cursor: string;
  /** Stop watching after this long. */
  timeoutMs: number;
}

interface Watch {
  key: string;
  /** Resolves true once the peer's verified gradient is in this peer's Redis, false when the copy failed. */
  copies: Map<string, Promise<boolean>>;
  stop(): void;
}

const BLOCK_MS = 200;

export class GradientPrefetcher {
  private watch: Watch | null = null;

  constructor(private readonly deps: ActivityDeps) {}

  /** Starts watching for the step's ready messages (once per step; a later step ends an earlier watch). */
  start(input: PrefetchInput): void {
    const key = `${input.run}:${input.epoch}:${input.step}`;
    if (this.watch?.key === key || input.peers.length === 0) return;
    this.watch?.stop();
    let stopped = false;
    const copies = new Map<string, Promise<boolean>>();
    const watch: Watch = { key, copies, stop: () => (stopped = true) };
    this.watch = watch;
    const { deps } = this;
    const wanted = new Set(input.peers);
    const stream = runKeys(input.run).syncStream;
    void (async () => {
      const own = await deps.directory.connection(deps.peerId);
      const plan = await loadPlan(deps, input.run);
      const blocking = own.duplicate();
      blocking.on('error', () => undefined);
      const deadline = Date.now() + input.timeoutMs;
      let after = input.cursor === '-' ? '0-0' : input.cursor.replace(/^\(/, '');
      try {
        while (!stopped && copies.size < wanted.size && Date.now() < deadline) {
          const read = (await blocking.xread('COUNT', 100, 'BLOCK', BLOCK_MS, 'STREAMS', stream, after)) as
            [string, [string, string[]][]][] | null;
          for (const [id, fields] of read?.[0]?.[1] ?? []) {
            after = id;
            const msg = decodeSync(fields);
            if (!msg || msg.type !== 'ready' || msg.run !== input.run) continue;
            if (msg.epoch !== input.epoch || msg.step !== input.step) continue;
            if (!wanted.has(msg.peer) || copies.has(msg.peer)) continue;
            trace(deps.peerId, 'prefetch-start', input.step, { from: msg.peer });
            copies.set(
              msg.peer,
              withTimeout(
                copyPeerGradient(deps, plan, own, input.run, input.epoch, input.step, msg.peer),
                FETCH_TIMEOUT_MS,
              ).then(
                () => (trace(deps.peerId, 'prefetch-end', input.step, { from: msg.peer }), true),
                (err: Error) => (
                  trace(deps.peerId, 'prefetch-failed', input.step, { from: msg.peer, error: err.message }),
                  false
                ),
              ),
            );
          }
        }
      } catch {
        // the fetch after the barrier copies whatever is not here
      } finally {
        blocking.disconnect();
      }
    })().catch(() => undefined);
  }

  /**
   * The fetch's side of `peer`'s copy for this step: true when a copy started here completed (it is in this
   * peer's Redis); false otherwise, and the fetch copies it itself. A peer whose copy has not started is taken
   * from the watch: its ready message can reach the fetch (through the barrier) a moment before the watch, which
   * then started a second copy of the same gradient beside the fetch's (seen at epochs' last steps).
   */
  async claim(run: string, epoch: number, step: number, peer: string): Promise<boolean> {
    const watch = this.watch;
    if (watch?.key !== `${run}:${epoch}:${step}`) return false;
    const started = watch.copies.get(peer);
    if (started) return started;
    watch.copies.set(peer, Promise.resolve(false));
    return false;
  }

  stop(): void {
    this.watch?.stop();
    this.watch = null;
  }
}
