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
        // completed: only this worker writes these keys, and only after the signature checked out.
        if (await deps.prefetcher?.copied(input.run, epoch, step, peer)) return;
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
  const remote = await deps.directory.connection(peer);
  // The gradient goes in pieces into a key of its own (a concurrent copy of the same gradient writes another),
  // hashed on the way; it takes its real name only once the hash matches the signature.
  const partial = `${dst}:partial:${randomUUID()}`;
  try {
    const [streamed, buffers, signature] = await Promise.all([
      // A peer whose ACL user predates GETRANGE (a network set up by an older version) is read whole.
      streamCopy(remote, own, src, partial, plan.ttlSeconds).catch((err: Error) => {
        if (!/NOPERM/.test(err.message)) throw err;
        return streamCopy(remote, own, src, partial, plan.ttlSeconds, { whole: true });
      }),
      buffersPair ? remote.getBuffer(buffersPair[0]) : Promise.resolve(null),
      deps.security ? remote.get(keys.averagedSignature(epoch, step)) : Promise.resolve(null),
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
 * Copies the string at `src` (another peer's Redis) to `dst` (this peer's) in pieces: every piece is asked for
 * at once, and each is hashed and written as it arrives, so reading, hashing and writing overlap instead of
 * following one another. `whole` reads it in one piece (GET). Returns the SHA-256 (hex) of the bytes written.
 * @throws when the source is missing, or changes length while it is read
 */
async function streamCopy(
  remote: Redis,
  own: Redis,
  src: string,
  dst: string,
  ttlSeconds: number,
  opts: { whole?: boolean } = {},
): Promise<string> {
  const length = await remote.strlen(src);
  if (length === 0) throw new Error(`key ${src} is gone`);
  const size = opts.whole ? length : COPY_PIECE;
  const offsets = Array.from({ length: Math.ceil(length / size) }, (_, i) => i * size);
  const pieces = offsets.map((at) =>
    offsets.length === 1
      ? remote.getBuffer(src).then((b) => b ?? Buffer.alloc(0))
      : remote.getrangeBuffer(src, at, Math.min(length, at + size) - 1),
  );
  const hash = createHash('sha256');
  const writes: Promise<unknown>[] = [];
  try {
    for (const [i, at] of offsets.entries()) {
      const piece = await pieces[i];
      if (piece.length !== Math.min(size, length - at)) throw new Error(`key ${src} is gone or changed`);
      hash.update(piece);
      writes.push(own.setrange(dst, at, piece));
      if (i === 0) writes.push(own.expire(dst, ttlSeconds));
    }
  } finally {
    // Every piece's request settles (no unhandled rejection), whatever ended the loop.
    await Promise.allSettled([...pieces, ...writes]);
  }
  await Promise.all(writes);
  return hash.digest('hex');
}

/** How long a copy of one peer's gradient may take. */
export const FETCH_TIMEOUT_MS = 30_000;

export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

/** A fetched gradient whose signature does not verify: the message is the reason. */
class SignatureRefused extends Error {
  override name = 'SignatureRefused';
}
