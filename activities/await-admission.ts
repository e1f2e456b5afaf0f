import { Context } from '@temporalio/activity';
import { DataError } from '../lib/errors/data-error';
import { checkSnapshot, type SnapshotParts } from '../lib/protocol/model-snapshot';
import { decodeSync, type AdmittedNotice, type DeclinedNotice } from '../lib/protocol/sync-message';
import { runKeys } from '../lib/redis/keys';
import type { ActivityDeps } from './deps';
import { refuseSync } from './signing';

export interface AwaitAdmissionInput {
  run: string;
  timeoutMs: number;
  /** Notices sent at or after this time (ms) count; older ones belong to an earlier admission. @default now */
  since?: number;
}

/**
 * Run by a peer that asked to (re)join: waits for the admitting peer's signed notice on its own sync stream,
 * pulls the model snapshot that peer published in its Redis, checks every part against the manifest the
 * admitting peer signed (and the hash in the notice), and installs it in this peer's Redis. Returns a peer's
 * signed `declined` notice instead when the run ended before it could admit this one, and null at the timeout.
 * @throws DataError when the snapshot does not verify (nothing is trained on it)
 */
export function makeAwaitAdmission(deps: ActivityDeps) {
  return async function awaitAdmission(input: AwaitAdmissionInput): Promise<AdmittedNotice | DeclinedNotice | null> {
    const started = Date.now();
    const keys = runKeys(input.run);
    const own = await deps.directory.connection(deps.peerId);
    const blocking = own.duplicate();
    blocking.on('error', () => undefined);
    // Only notices sent after the join began count (an older one belongs to an earlier admission).
    let last = `${(input.since ?? started) - 1}-0`;
    try {
      while (Date.now() - started < input.timeoutMs) {
        Context.current().heartbeat();
        const reply = (await blocking.xread('COUNT', 100, 'BLOCK', 1000, 'STREAMS', keys.syncStream, last)) as
          [string, [string, string[]][]][] | null;
        for (const [, entries] of reply ?? []) {
          for (const [id, fields] of entries) {
            last = id;
            const msg = decodeSync(fields);
            if (msg?.type !== 'admitted' && msg?.type !== 'declined') continue;
            if (msg.run !== input.run || msg.target !== deps.peerId) continue;
            if (await refuseSync(deps, fields, msg.peer, { run: input.run, id })) continue;
            if (msg.type === 'declined') return msg;
            await installSnapshot(deps, msg);
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

async function installSnapshot(deps: ActivityDeps, notice: AdmittedNotice): Promise<void> {
  const keys = runKeys(notice.run);
  const remote = await deps.directory.connection(notice.peer);
  const [params, momentum, buffers, layout, manifest] = await Promise.all([
    remote.getBuffer(keys.snapshot(notice.epoch, 'params')),
    remote.getBuffer(keys.snapshot(notice.epoch, 'momentum')),
    remote.getBuffer(keys.snapshot(notice.epoch, 'buffers')),
    remote.get(keys.snapshot(notice.epoch, 'layout')),
    remote.get(keys.snapshot(notice.epoch, 'manifest')),
  ]);
  if (!params || layout === null)
    throw new DataError(`admission by ${notice.peer}: its model snapshot for epoch ${notice.epoch} is gone`);
  const appliedStep = manifest
    ? ((JSON.parse(manifest) as { statement?: { appliedStep?: string | null } }).statement?.appliedStep ?? null)
    : null;
  const parts: SnapshotParts = { params, momentum, buffers, layout, appliedStep };
  const key = deps.keyRing ? await deps.keyRing.signingKey(notice.peer) : null;
  if (deps.keyRing && !key) throw new DataError(`admission by ${notice.peer}: it is not a trusted peer`);
  const reason = checkSnapshot(key, manifest, notice, parts);
  if (reason) {
    deps.log.warn({ run: notice.run, from: notice.peer, reason }, 'admission snapshot refused');
    throw new DataError(`admission by ${notice.peer}: ${reason}`);
  }
  const own = await deps.directory.connection(deps.peerId);
  const tx = own.multi().set(keys.params, params).set(keys.layout, layout);
  if (momentum) tx.set(keys.momentum, momentum);
  else tx.del(keys.momentum);
  if (buffers) tx.set(keys.buffers, buffers);
  if (appliedStep) tx.set(keys.appliedStep, appliedStep);
  await tx.exec();
}
