import { createHash } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { DataError } from '../lib/errors/data-error';
import { decodeSync, type AdmittedNotice } from '../lib/protocol/sync-message';
import { runKeys } from '../lib/redis/keys';
import type { ActivityDeps } from './deps';

export interface AwaitAdmissionInput {
  run: string;
  timeoutMs: number;
}

/**
 * Run by a peer that asked to (re)join: waits for the admitting peer's notice on its own sync stream, then
 * checks the parameters copied into its Redis against the hash in the notice.
 * @throws DataError when the copied parameters do not match the hash (nothing is trained on them)
 */
export function makeAwaitAdmission(deps: ActivityDeps) {
  return async function awaitAdmission(input: AwaitAdmissionInput): Promise<AdmittedNotice | null> {
    const started = Date.now();
    const keys = runKeys(input.run);
    const own = await deps.directory.connection(deps.peerId);
    const blocking = own.duplicate();
    blocking.on('error', () => undefined);
    // Only notices sent after this wait began count (an older one belongs to an earlier admission).
    let last = `${started - 1}-0`;
    try {
      while (Date.now() - started < input.timeoutMs) {
        Context.current().heartbeat();
        const reply = (await blocking.xread('COUNT', 100, 'BLOCK', 1000, 'STREAMS', keys.syncStream, last)) as
          [string, [string, string[]][]][] | null;
        for (const [, entries] of reply ?? []) {
          for (const [id, fields] of entries) {
            last = id;
            const msg = decodeSync(fields);
            if (msg?.type !== 'admitted' || msg.run !== input.run || msg.target !== deps.peerId) continue;
            const params = await own.getBuffer(keys.params);
            const sha = params ? createHash('sha256').update(params).digest('hex') : 'none';
            if (sha !== msg.paramsSha256)
              throw new DataError(`admission by ${msg.peer}: the copied parameters do not match their hash`);
            return msg;
          }
        }
      }
      return null;
    } finally {
      blocking.disconnect();
    }
  };
}
