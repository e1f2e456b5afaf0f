import { Context } from '@temporalio/activity';
import { runKeys } from '../lib/redis/keys';
import type { ActivityDeps } from './deps';
import { compareStep, decodeReady } from './sync-messages';

export interface AwaitPeersReadyInput {
  run: string;
  epoch: number;
  step: number;
  expected: string[];
  /** XRANGE start from the previous barrier (`-` at first). */
  cursor: string;
  timeoutMs: number;
}

export interface AwaitPeersReadyResult {
  ready: string[];
  missing: string[];
  cursor: string;
  waitedMs: number;
}

/**
 * Barrier: reads this peer's sync stream until every expected peer has announced ready(epoch, step),
 * or the timeout passes. Messages of later steps (from faster peers) stay unconsumed: the returned
 * cursor points at the first of them.
 */
export function makeAwaitPeersReady(deps: ActivityDeps) {
  return async function awaitPeersReady(input: AwaitPeersReadyInput): Promise<AwaitPeersReadyResult> {
    const started = Date.now();
    const redis = await deps.directory.connection(deps.peerId);
    const stream = runKeys(input.run).syncStream;
    const expected = new Set(input.expected);
    const ready = new Set<string>();
    const current = { epoch: input.epoch, step: input.step };
    let start = input.cursor;
    let lastId: string | null = null;
    let firstLaterId: string | null = null;
    let pause = 5;
    for (;;) {
      const entries = (await redis.xrange(stream, start, '+', 'COUNT', 500)) as [string, string[]][];
      for (const [id, fields] of entries) {
        lastId = id;
        const msg = decodeReady(fields);
        if (!msg || msg.run !== input.run) continue;
        const order = compareStep(msg, current);
        if (order === 0 && expected.has(msg.peer)) ready.add(msg.peer);
        else if (order > 0 && firstLaterId === null) firstLaterId = id;
      }
      if (lastId !== null) start = `(${lastId}`;
      if (entries.length === 500) continue;
      if (ready.size === expected.size || Date.now() - started >= input.timeoutMs) break;
      Context.current().heartbeat({ ready: ready.size });
      await new Promise((r) => setTimeout(r, pause));
      pause = Math.min(pause * 2, 20);
    }
    const cursor = firstLaterId ?? (lastId !== null ? `(${lastId}` : input.cursor);
    const missing = input.expected.filter((p) => !ready.has(p));
    if (missing.length > 0) deps.log.warn({ run: input.run, ...current, missing }, 'sync barrier timed out');
    return { ready: input.expected.filter((p) => ready.has(p)), missing, cursor, waitedMs: Date.now() - started };
  };
}
