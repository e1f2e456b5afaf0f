import { attackGradient, type AttackSpec } from '../lib/attacks/attacks';
import { signGradientDigest } from '../lib/protocol/gradient-signature';
import { bufferToFloat32, float32ToBuffer } from '../lib/tensor/float32';
import { averageTensors, sha256Tensor } from '../lib/redis/tensor-ops';
import { runKeys } from '../lib/redis/keys';
import type { ActivityDeps } from './deps';
import { applyOwnGradient, writeModelDelta, type LocalSgd } from './local-steps';
import { loadPlan } from './run-plan';

export interface AverageShardGradientsInput {
  run: string;
  epoch: number;
  step: number;
  /** Function calls of this step (own shards, taken-over units and catch-up batches). */
  shards: number;
  /**
   * Local SGD (syncEvery > 1). `local`: the average stays here (not signed, not published; applyUpdate
   * applies it to this peer's model). `sync`: it is applied to this peer's model, then replaced by the
   * model's change since the last synchronisation, which is what gets signed and published.
   */
  localSgd?: LocalSgd & { mode: 'local' | 'sync' };
}

/** Paper III.3.4: averages this step's shard gradients (and updated buffers) inside the peer's Redis. */
export function makeAverageShardGradients(deps: ActivityDeps) {
  return async function averageShardGradients(
    input: AverageShardGradientsInput,
  ): Promise<{ length: number; ms: number; signMs: number }> {
    const started = Date.now();
    const keys = runKeys(input.run);
    const plan = await loadPlan(deps, input.run);
    const redis = await deps.directory.connection(deps.peerId);
    const shards = Array.from({ length: input.shards }, (_, s) => s);
    // Gradients and buffers at once: one round trip (the server runs them one after the other).
    const [{ length }] = await Promise.all([
      averageTensors(
        redis,
        keys.averagedGradient(input.epoch, input.step),
        shards.map((s) => keys.shardGradient(input.epoch, input.step, s, deps.peerId)),
        { ttlSeconds: plan.ttlSeconds, path: plan.path },
      ),
      plan.hasBuffers
        ? averageTensors(
            redis,
            keys.averagedBuffers(input.epoch, input.step),
            shards.map((s) => keys.shardBuffers(input.epoch, input.step, s, deps.peerId)),
            { ttlSeconds: plan.ttlSeconds, path: plan.path },
          )
        : null,
    ]);
    if (input.localSgd?.mode === 'local') return { length, ms: Date.now() - started, signMs: 0 };
    if (input.localSgd?.mode === 'sync') {
      await applyOwnGradient(redis, keys, plan, input.epoch, input.step, input.localSgd);
      await writeModelDelta(redis, keys, plan, input.epoch, input.step, input.localSgd.lr);
    }
    if (plan.attack && plan.attack.attack !== 'labelflip')
      await byzantine(deps, input, plan.attack, plan.peers, plan.seed);
    const signMs = deps.security ? await signAverage(deps, input) : 0;
    return { length, ms: Date.now() - started, signMs };
  };
}

/**
 * Signs the step's averaged gradient (and buffers) over (run, epoch, step, peer, SHA-256 of the bytes), so the
 * peers that fetch it can check where it came from and that no byte changed. Returns the time it took.
 */
async function signAverage(deps: ActivityDeps, input: AverageShardGradientsInput): Promise<number> {
  const started = Date.now();
  const keys = runKeys(input.run);
  const plan = await loadPlan(deps, input.run);
  const redis = await deps.directory.connection(deps.peerId);
  const gradientKey = keys.averagedGradient(input.epoch, input.step);
  // Hashed where the bytes are: with the module only the digests leave Redis (a 6 MB mobilenet_v3_small
  // average is not read out); without it they are read and hashed here.
  const [sha, buffersSha] = await Promise.all([
    sha256Tensor(redis, gradientKey, { path: plan.path }),
    plan.hasBuffers
      ? sha256Tensor(redis, keys.averagedBuffers(input.epoch, input.step), { path: plan.path })
      : Promise.resolve(null),
  ]).catch((err: Error) => {
    throw new Error(`averaged gradient of step ${input.epoch}:${input.step} cannot be hashed: ${err.message}`);
  });
  const signed = signGradientDigest(
    deps.security!.keys.signing.privateKey,
    { run: input.run, epoch: input.epoch, step: input.step, peer: deps.peerId },
    sha,
    buffersSha,
  );
  // Test-only chaos (a key an operator sets in this peer's own Redis): one byte flipped after signing, as an
  // attacker with write access to the database would. The low byte of the last float: the value stays finite.
  // Asked for in the same round trip as the signature is stored.
  const [, tamper] = await Promise.all([
    redis.set(keys.averagedSignature(input.epoch, input.step), JSON.stringify(signed), 'EX', plan.ttlSeconds),
    redis.exists(keys.chaosTamper(input.epoch, input.step)),
  ]);
  if (tamper) {
    const at = (await redis.strlen(gradientKey)) - 4;
    const [byte] = await redis.getrangeBuffer(gradientKey, at, at);
    await redis.setrange(gradientKey, at, Buffer.from([byte ^ 0x01]));
    deps.log.warn({ run: input.run, epoch: input.epoch, step: input.step }, 'chaos: averaged gradient tampered');
  }
  return Date.now() - started;
}

/**
 * Experiments only: a Byzantine peer replaces its honest average by the attack's gradient before it signs
 * and publishes it (lib/attacks). ALIE's default z assumes f = 1 of the run's peers.
 */
async function byzantine(
  deps: ActivityDeps,
  input: AverageShardGradientsInput,
  spec: AttackSpec,
  peers: number,
  seed: number,
): Promise<void> {
  const keys = runKeys(input.run);
  const redis = await deps.directory.connection(deps.peerId);
  const avgKey = keys.averagedGradient(input.epoch, input.step);
  const [avg, ...shards] = await Promise.all([
    redis.getBuffer(avgKey),
    ...Array.from({ length: input.shards }, (_, s) =>
      redis.getBuffer(keys.shardGradient(input.epoch, input.step, s, deps.peerId)),
    ),
  ]);
  if (!avg) throw new Error(`averaged gradient of step ${input.epoch}:${input.step} is missing`);
  const honest = bufferToFloat32(avg);
  const attacked = attackGradient(
    spec,
    honest,
    shards.filter((b): b is Buffer => b !== null).map((b) => bufferToFloat32(b)),
    { n: peers, f: 1, seed: (seed * 1_000_003 + input.epoch * 10_007 + input.step) >>> 0 },
  );
  const ttl = await redis.ttl(avgKey);
  if (ttl > 0) await redis.set(avgKey, float32ToBuffer(attacked), 'EX', ttl);
  else await redis.set(avgKey, float32ToBuffer(attacked));
}
