import { recordSecurityEvent } from '../lib/peer/trust';
import { checkGradientSignature } from '../lib/protocol/gradient-signature';
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
    for (const d of dropped)
      deps.log.warn({ run: input.run, epoch, step, ...d }, 'peer gradient dropped from this step');
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
  const pairs = gradientKeyPairs(keys, plan, epoch, step, peer);
  const remote = await deps.directory.connection(peer);
  const [blobs, signature] = await Promise.all([
    Promise.all(pairs.map(([src]) => remote.getBuffer(src))),
    deps.security ? remote.get(keys.averagedSignature(epoch, step)) : Promise.resolve(null),
  ]);
  trace(deps.peerId, 'copy-read', step, { from: peer });
  const absent = pairs.find((_, i) => !blobs[i]);
  if (absent) throw new Error(`key ${absent[0]} is gone`);
  if (deps.security && deps.keyRing) {
    const key = await deps.keyRing.signingKey(peer);
    const refused = key
      ? checkGradientSignature(
          key,
          signature,
          { run, epoch, step, peer },
          blobs[0] as Buffer,
          plan.hasBuffers ? blobs[1] : null,
        )
      : 'not a trusted peer';
    if (refused) throw new SignatureRefused(refused);
  }
  trace(deps.peerId, 'copy-verified', step, { from: peer });
  const tx = own.multi();
  pairs.forEach(([, dst], i) => tx.set(dst, blobs[i] as Buffer, 'EX', plan.ttlSeconds));
  await tx.exec();
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
