import { withTimeout } from '../lib/errors/timeout';
import { recordSecurityEvent } from '../lib/peer/trust';
import { checkGradientDigest } from '../lib/protocol/gradient-signature';
import { sha256Hex } from '../lib/crypto/canonical';
import { createHash, randomUUID } from 'node:crypto';
import { describeRedisError } from '../lib/redis/connect';
import type { Redis } from 'ioredis';
import { runKeys, type RunKeys } from '../lib/redis/keys';
import type { ActivityDeps } from './deps';
import type { RunPlan } from '../lib/protocol/plan';
import { loadPlan } from './run-plan';
import { trace } from '../lib/log/trace';
import type { BulkLink } from '../lib/redis/bulk-link';

export interface FetchPeerGradientsInput {
  run: string;
  epoch: number;
  step: number;
  /** Other peers whose averaged gradients this step should use. */
  peers: string[];
  /** Give up on one peer after this long. @default FETCH_TIMEOUT_MS */
  timeoutMs?: number;
}

export interface FetchPeerGradientsResult {
  /** Peers whose averaged gradient (and buffers) are now copied into this peer's Redis. */
  fetched: string[];
  /** Peers dropped from this step's aggregation, and why. Never fatal. */
  dropped: { peer: string; reason: string }[];
  ms: number;
}

/**
 * Paper III.3.7 (first half): copies the other peers' averaged gradients of this step into this peer's
 * Redis. A peer whose gradient cannot be read (connection refused, key gone, timeout) is dropped from this
 * step's aggregation with the reason logged: another peer's failure is never fatal to this one.
 */
export function makeFetchPeerGradients(deps: ActivityDeps) {
  return async function fetchPeerGradients(input: FetchPeerGradientsInput): Promise<FetchPeerGradientsResult> {
    const started = Date.now();
    const keys = runKeys(input.run);
    const plan = await loadPlan(deps, input.run);
    const own = await deps.directory.connection(deps.peerId);
    const { epoch, step } = input;
    const outcomes = await Promise.allSettled(
      input.peers.map(async (peer) => {
        // A copy the prefetcher started while this peer waited (or computed) is awaited, then kept when it
        // completed: only this worker writes these keys, and only after the signature checked out. One it
        // has not started, it will not start now.
        if (await deps.prefetcher?.claim(input.run, epoch, step, peer)) return;
        // A retried or replayed fetch keeps the copies an earlier attempt made.
        const present = await own.exists(...gradientKeyPairs(keys, plan, epoch, step, peer).map(([, dst]) => dst));
        if (present === (plan.hasBuffers ? 2 : 1)) return;
        const copy = copyPeerGradient(deps, plan, own, input.run, epoch, step, peer);
        await withTimeout(copy, input.timeoutMs ?? FETCH_TIMEOUT_MS);
      }),
    );
    const fetched: string[] = [];
    const dropped: { peer: string; reason: string }[] = [];
    outcomes.forEach((o, i) => {
      if (o.status === 'fulfilled') fetched.push(input.peers[i]);
      else dropped.push({ peer: input.peers[i], reason: describeRedisError(o.reason) });
    });
    for (const d of dropped) {
      deps.log.warn({ run: input.run, epoch, step, ...d }, 'peer gradient dropped from this step');
      trace(deps.peerId, 'dropped', step, d);
    }
    const refusals = outcomes.flatMap((o, i) =>
      o.status === 'rejected' && o.reason instanceof SignatureRefused
        ? [{ peer: input.peers[i], reason: o.reason.message }]
        : [],
    );
    if (refusals.length > 0) {
      await Promise.all(
        refusals.map((r) =>
          recordSecurityEvent(own, {
            event: 'rejected',
            from: r.peer,
            type: 'gradient',
            reason: `${epoch}:${step}: ${r.reason}`,
          }),
        ),
      ).catch(() => undefined);
    }
    return { fetched, dropped, ms: Date.now() - started };
  };
}

/** [key in the peer's Redis, key of its copy in this peer's Redis] of a step's published gradient (and buffers). */
function gradientKeyPairs(keys: RunKeys, plan: RunPlan, epoch: number, step: number, peer: string): [string, string][] {
  return [
    [keys.averagedGradient(epoch, step), keys.peerGradient(epoch, step, peer)],
    ...(plan.hasBuffers
      ? [[keys.averagedBuffers(epoch, step), keys.peerBuffers(epoch, step, peer)] as [string, string]]
      : []),
  ];
}

/**
 * Reads one peer's published gradient of a step, checks its signature (with security on), and writes it into
 * this peer's Redis. Throws when it cannot be read, or SignatureRefused when it does not verify.
 */
export async function copyPeerGradient(
  deps: ActivityDeps,
  plan: RunPlan,
  own: Redis,
  run: string,
  epoch: number,
  step: number,
  peer: string,
): Promise<void> {
  const keys = runKeys(run);
  const [[src, dst], buffersPair] = gradientKeyPairs(keys, plan, epoch, step, peer);
  const [remote, ownLink] = await Promise.all([deps.directory.bulkLink(peer), deps.directory.bulkLink(deps.peerId)]);
  const links = { remote, own: ownLink };
  // The gradient goes in pieces into a key of its own (a concurrent copy of the same gradient writes another),
  // hashed on the way; it takes its real name only once the hash matches the signature.
  const partial = `${dst}:partial:${randomUUID()}`;
  try {
    const [streamed, buffers, signature] = await Promise.all([
      // A peer whose ACL user predates GETRANGE (a network set up by an older version) is read whole.
      streamCopy(plan, links, src, partial).catch((err: Error) => {
        if (!/NOPERM/.test(err.message)) throw err;
        return streamCopy(plan, links, src, partial, { whole: true });
      }),
      // Asked for on the same connection, behind the pieces.
      buffersPair ? (remote.send(['GET', buffersPair[0]]) as Promise<Buffer | null>) : Promise.resolve(null),
      deps.security
        ? (remote.send(['GET', keys.averagedSignature(epoch, step)]) as Promise<Buffer | null>).then(
            (b) => b?.toString() ?? null,
          )
        : Promise.resolve(null),
    ]);
    trace(deps.peerId, 'copy-read', step, { from: peer });
    if (buffersPair && !buffers) throw new Error(`key ${buffersPair[0]} is gone`);
    if (deps.security && deps.keyRing) {
      const key = await deps.keyRing.signingKey(peer);
      const refused = key
        ? checkGradientDigest(key, signature, { run, epoch, step, peer }, streamed, buffers ? sha256Hex(buffers) : null)
        : 'not a trusted peer';
      if (refused) throw new SignatureRefused(refused);
    }
    trace(deps.peerId, 'copy-verified', step, { from: peer });
    const tx = own.multi().rename(partial, dst).expire(dst, plan.ttlSeconds);
    if (buffersPair && buffers) tx.set(buffersPair[1], buffers, 'EX', plan.ttlSeconds);
    const results = await tx.exec();
    const failed = results?.find(([err]) => err);
    if (!results || failed)
      throw new Error(`storing the copy failed: ${failed?.[0]?.message ?? 'transaction aborted'}`);
  } catch (err) {
    await own.del(partial).catch(() => undefined);
    throw err;
  }
}

/** Bytes per piece of a streamed copy (a gradient of one piece or less is read with GET). */
const COPY_PIECE = 1 << 20;

/**
 * The length of the last gradient copied for a run (every gradient of a run has its model's size): the next
 * copy asks for its pieces at once instead of waiting for STRLEN first. Kept per run plan (one per run).
 */
const gradientLengths = new WeakMap<RunPlan, number>();

/**
 * Copies the string at `src` (another peer's Redis) to `dst` (this peer's) in pieces over the two databases'
 * bulk links (lib/redis/bulk-link.ts): every piece is asked for at once, and each is hashed as it arrives and
 * written once complete, so reading, hashing and writing overlap. `whole` reads it in one piece (GET). The
 * pieces are asked for with the length of the run's last copy when there was one, the source's STRLEN checked
 * alongside; a source of another length is then copied again with its own. Returns the SHA-256 (hex) of the
 * bytes written.
 * @throws when the source is missing, or changes length while it is read
 */
async function streamCopy(
  plan: RunPlan,
  links: { remote: BulkLink; own: BulkLink },
  src: string,
  dst: string,
  opts: { whole?: boolean } = {},
): Promise<string> {
  const measured = links.remote.send(['STRLEN', src]).then(Number);
  const guess = gradientLengths.get(plan);
  if (guess !== undefined) {
    const copied = copyPieces(links, src, dst, guess, plan.ttlSeconds, opts);
    const [length, sha] = await Promise.allSettled([measured, copied]);
    if (length.status === 'rejected') throw length.reason;
    if (length.value === guess) {
      if (sha.status === 'rejected') throw sha.reason;
      return sha.value;
    }
    await links.own.send(['DEL', dst]);
  }
  const length = await measured;
  if (length === 0) throw new Error(`key ${src} is gone`);
  const sha = await copyPieces(links, src, dst, length, plan.ttlSeconds, opts);
  gradientLengths.set(plan, length);
  return sha;
}

/** streamCopy's pieces, for a source of `length` bytes, through a buffer of the pool. */
async function copyPieces(
  links: { remote: BulkLink; own: BulkLink },
  src: string,
  dst: string,
  length: number,
  ttlSeconds: number,
  opts: { whole?: boolean },
): Promise<string> {
  const size = opts.whole ? length : COPY_PIECE;
  const offsets = Array.from({ length: Math.ceil(length / size) }, (_, i) => i * size);
  const buffer = takeBuffer(length);
  const hash = createHash('sha256');
  // The pieces arrive in order on one connection: each chunk is hashed and kept as it comes.
  const keep = (at: number) => (chunk: Buffer, offset: number) => {
    if (at + offset + chunk.length > length) return; // longer than asked for: refused below by its length
    hash.update(chunk);
    chunk.copy(buffer, at + offset);
  };
  const pieces = offsets.map((at) =>
    links.remote.send(
      offsets.length === 1 ? ['GET', src] : ['GETRANGE', src, at, Math.min(length, at + size) - 1],
      keep(at),
    ),
  );
  // The destination is made its full length first (one allocation), so that the pieces are written in place
  // rather than growing the string (and copying it) piece by piece.
  const writes: Promise<unknown>[] = [
    links.own.send(['SETRANGE', dst, length - 1, ZERO_BYTE]),
    links.own.send(['EXPIRE', dst, ttlSeconds]),
  ];
  try {
    for (const [i, at] of offsets.entries()) {
      const got = await pieces[i];
      const want = Math.min(size, length - at);
      if (got !== want) throw new Error(`key ${src} is gone or changed`);
      writes.push(links.own.send(['SETRANGE', dst, at, buffer.subarray(at, at + want)]));
    }
  } finally {
    // Every request settles (no unhandled rejection, and no write still reads the buffer), whatever ended the loop.
    await Promise.allSettled([...pieces, ...writes]);
    releaseBuffer(buffer);
  }
  await Promise.all(writes);
  return hash.digest('hex');
}

const ZERO_BYTE = Buffer.alloc(1);

/** Copy buffers for reuse (one per copy in flight; every gradient of a run has the same length). */
const spareBuffers: Buffer[] = [];
const SPARE_BUFFERS = 4;

function takeBuffer(length: number): Buffer {
  const i = spareBuffers.findIndex((b) => b.length === length);
  return i >= 0 ? spareBuffers.splice(i, 1)[0] : Buffer.allocUnsafeSlow(length);
}

function releaseBuffer(buffer: Buffer): void {
  if (spareBuffers.length >= SPARE_BUFFERS) spareBuffers.shift();
  spareBuffers.push(buffer);
}

/** How long a copy of one peer's gradient may take. */
export const FETCH_TIMEOUT_MS = 30_000;

/** A fetched gradient whose signature does not verify: the message is the reason. */
class SignatureRefused extends Error {
  override name = 'SignatureRefused';
}
