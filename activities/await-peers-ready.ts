import { Context } from '@temporalio/activity';
import { isQuorum } from '../lib/membership/agreement';
import { compareStep, decodeSync, type ReadyMessage, type RemovedNotice } from '../lib/protocol/sync-message';
import { runKeys } from '../lib/redis/keys';
import type { ActivityDeps } from './deps';
import type { PrefetchInput } from './prefetch';
import { refuseSync } from './signing';
import { trace } from '../lib/log/trace';

export interface AwaitPeersReadyInput {
  run: string;
  epoch: number;
  step: number;
  /** The active set (this peer included), in rank order. */
  expected: string[];
  /** XRANGE start from the previous barrier (`-` at first). */
  cursor: string;
  timeoutMs: number;
  /** Peers to treat as suspected whatever the detector says (removed by an operator). */
  forceSuspected: string[];
  /** Removal notices about this peer from before this (epoch, step) are stale (it was readmitted since). */
  ignoreRemovedBefore?: [number, number];
  /** Copy the other peers' gradients as they announce ready (activities/prefetch.ts). */
  prefetch?: boolean;
}

export interface AwaitPeersReadyResult {
  /** ready(epoch, step) messages received, by sender: the votes of this step. */
  votes: Record<string, Omit<ReadyMessage, 'type' | 'run' | 'epoch' | 'step' | 'peer'>>;
  /** Expected peers that did not announce ready (suspected ones are not waited for). */
  missing: string[];
  /** Expected peers suspected when the barrier ended, with the reason. */
  suspected: { peer: string; reason: string }[];
  /** A notice from an active peer that this peer was removed from the run. */
  removedNotice: RemovedNotice | null;
  /**
   * Expected peers that announced they left the run (an operator removed them) in this epoch: they are not
   * waited for, and the workflow votes them out from the next step on.
   */
  departed: { peer: string; reason: string }[];
  /** True when the wait ended at the timeout (not every unsuspected peer was ready, or no quorum). */
  timedOut: boolean;
  cursor: string;
  waitedMs: number;
}

/** Block this long per read while waiting, so suspicions and heartbeats are looked at in between. */
const BLOCK_MS = 100;

/**
 * Paper III.3.6: waits until every expected peer that is not suspected has announced ready(epoch, step) and
 * the peers heard from are a quorum, or the timeout passes. The wait is woken by new stream entries
 * (XREAD BLOCK on its own connection), not polled. Messages of later steps (from faster peers) stay
 * unconsumed: the returned cursor points at the first of them.
 */
export function makeAwaitPeersReady(deps: ActivityDeps) {
  return async function awaitPeersReady(input: AwaitPeersReadyInput): Promise<AwaitPeersReadyResult> {
    const started = Date.now();
    trace(deps.peerId, 'wait', input.step);
    if (input.prefetch) deps.prefetcher?.start(prefetchInput(deps.peerId, input));
    const own = await deps.directory.connection(deps.peerId);
    const blocking = own.duplicate();
    blocking.on('error', () => undefined);
    const stream = runKeys(input.run).syncStream;
    const expected = new Set(input.expected);
    const votes: AwaitPeersReadyResult['votes'] = {};
    const current = { epoch: input.epoch, step: input.step };
    let start = input.cursor;
    let lastId: string | null = null;
    let firstLaterId: string | null = null;
    let removedNotice: RemovedNotice | null = null;
    const departed = new Map<string, string>();
    let timedOut = false;
    const suspectedNow = () => {
      const fromDetector = deps.monitor
        .suspects(input.run, input.expected)
        .map((h) => ({ peer: h.peer, reason: h.reason ?? '' }));
      const forced = input.forceSuspected
        .filter((p) => expected.has(p) && !fromDetector.some((s) => s.peer === p))
        .map((peer) => ({ peer, reason: 'removed by operator' }));
      const left = [...departed]
        .filter(([p]) => !fromDetector.some((s) => s.peer === p) && !forced.some((s) => s.peer === p))
        .map(([peer, reason]) => ({ peer, reason: `left the run: ${reason}` }));
      return [...fromDetector, ...forced, ...left];
    };
    try {
      for (;;) {
        const entries = (await own.xrange(stream, start, '+', 'COUNT', 500)) as [string, string[]][];
        for (const [id, fields] of entries) {
          lastId = id;
          const msg = decodeSync(fields);
          if (!msg || msg.run !== input.run || !expected.has(msg.peer)) continue;
          if (await refuseSync(deps, fields, msg.peer, { run: input.run, ...current, id })) continue;
          if (msg.type === 'removed') {
            const [e, st] = input.ignoreRemovedBefore ?? [0, 0];
            if (msg.target === deps.peerId && compareStep(msg, { epoch: e, step: st }) >= 0) removedNotice = msg;
            continue;
          }
          // A departure counts in the epoch it was sent in: a peer readmitted later starts at a later epoch.
          if (msg.type === 'departed') {
            if (msg.peer !== deps.peerId && msg.epoch === current.epoch) departed.set(msg.peer, msg.reason);
            continue;
          }
          if (msg.type !== 'ready') continue;
          const order = compareStep(msg, current);
          if (order === 0) {
            const { suspects, missing, membership, adds, stop } = msg;
            votes[msg.peer] = { suspects, missing, membership, adds, stop };
          } else if (order > 0 && firstLaterId === null) firstLaterId = id;
        }
        if (lastId !== null) start = `(${lastId}`;
        if (entries.length === 500) continue;
        if (removedNotice) break;
        const suspected = new Set(suspectedNow().map((s) => s.peer));
        const heard = Object.keys(votes);
        const waitingFor = input.expected.filter((p) => !(p in votes) && !suspected.has(p));
        if (waitingFor.length === 0 && isQuorum(heard, input.expected)) break;
        if (Date.now() - started >= input.timeoutMs) {
          timedOut = true;
          break;
        }
        if (!Context.current().info.isLocal) Context.current().heartbeat({ heard: heard.length, waitingFor });
        const after = lastId ?? (input.cursor.startsWith('(') ? input.cursor.slice(1) : '0-0');
        await blocking.xread('COUNT', 1, 'BLOCK', BLOCK_MS, 'STREAMS', stream, after);
      }
    } finally {
      blocking.disconnect();
    }
    const cursor = firstLaterId ?? (lastId !== null ? `(${lastId}` : input.cursor);
    const missing = input.expected.filter((p) => !(p in votes));
    const suspected = suspectedNow();
    trace(deps.peerId, 'barrier', input.step);
    if (timedOut) deps.log.warn({ run: input.run, ...current, missing }, 'sync barrier timed out');
    return {
      votes,
      missing,
      suspected,
      removedNotice,
      departed: [...departed].map(([peer, reason]) => ({ peer, reason })),
      timedOut,
      cursor,
      waitedMs: Date.now() - started,
    };
  };
}

/** The prefetch that goes with a barrier: every other expected peer, from the barrier's stream position. */
export function prefetchInput(self: string, barrier: AwaitPeersReadyInput): PrefetchInput {
  return {
    run: barrier.run,
    epoch: barrier.epoch,
    step: barrier.step,
    peers: barrier.expected.filter((p) => p !== self),
    cursor: barrier.cursor,
    timeoutMs: barrier.timeoutMs,
  };
}
