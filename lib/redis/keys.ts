// Every Redis key a peer uses, in one place (ARCHITECTURE.md section 4). Keys are namespaced by run
// so one peer database can hold several runs. Tensors are raw little-endian float32 strings.

export interface RunKeys {
  /** Trainable parameters, one flat float32 vector. */
  params: string;
  /** Non-trainable buffers (batch-norm running statistics), flat float32; may be empty. */
  buffers: string;
  /** SGD momentum buffer, same length as params. */
  momentum: string;
  /** JSON layout manifest: `{ model, params: ParamLayout, buffers: ParamLayout }`. */
  layout: string;
  /** `<epoch>:<step>` of the last update applied to params, so a retried update is not applied twice. */
  appliedStep: string;
  /** Gradient of one shard (the step's n-th function call) for one step (with a TTL). */
  shardGradient(epoch: number, step: number, shard: number, peer: string): string;
  /** Updated buffers computed by one shard for one step (with a TTL). */
  shardBuffers(epoch: number, step: number, shard: number, peer: string): string;
  /** This peer's average over its shards for one step; read by the other peers. */
  averagedGradient(epoch: number, step: number): string;
  averagedBuffers(epoch: number, step: number): string;
  /** This peer's signature over its averaged gradient (and buffers) for one step (JSON SignedGradient). */
  averagedSignature(epoch: number, step: number): string;
  /** The model snapshot an admitting peer publishes in its own Redis for peers it admits at `epoch`. */
  snapshot(epoch: number, part: 'params' | 'momentum' | 'buffers' | 'layout' | 'manifest'): string;
  /** Copy of another peer's averaged gradient, fetched into this peer's Redis for aggregation. */
  peerGradient(epoch: number, step: number, peerId: string): string;
  peerBuffers(epoch: number, step: number, peerId: string): string;
  /** The robust aggregate of all active peers' averaged gradients for one step. */
  aggregatedGradient(epoch: number, step: number): string;
  /** Stream of sync messages (ready(epoch, step)) that other peers append to. */
  syncStream: string;
  /** Stream of step timings. */
  metricsStream: string;
  /** Stream of membership events on this peer: suspected, recovered, removed, added (fields `event`, `peer`, `reason`). */
  membershipStream: string;
  /**
   * Fault injection (chaos drills, tests): while this key exists, the compute-gradient call for this
   * (epoch, step, shard) fails once and deletes it. Nothing in spirt sets it.
   */
  chaosFailOnce(epoch: number, step: number, shard: number): string;
  /** Test-only chaos: when present, this peer flips one byte of its averaged gradient of (epoch, step) after signing it. */
  chaosTamper(epoch: number, step: number): string;
  /** The run plan (JSON: model, dataset, partition, batch size, seed, ...), written once by preparePeer. */
  plan: string;
  /** Local SGD (syncEvery > 1): the model at the last synchronisation. */
  anchor: string;
  /** Local SGD: the last (epoch:step) whose synchronisation was applied. */
  syncedStep: string;
}

/** Keys that belong to the peer, not to one run. */
export const peerKeys = {
  /** Kept fresh by the peer's worker (PX expiry); absent means the worker is down. */
  heartbeat: 'spirt:peer:heartbeat',
  /** Hash: peer id -> JSON TrustedPeer (what the handshake verified about each peer it trusts). */
  trustedPeers: 'spirt:trust:peers',
  /** Hash: peer id -> reason, for every peer removed or refused (a revoked peer is refused from then on). */
  revokedPeers: 'spirt:trust:revoked',
  /** Stream of handshake decisions: accepted and rejected messages with the reason. */
  securityStream: 'spirt:trust:stream:events',
  /** Replay guard: one key per (sender, nonce) seen, expiring after the freshness window. */
  seenNonce: (sender: string, nonce: string) => `spirt:trust:nonce:${sender}:${nonce}`,
};

/** The handshake inbox of a peer: streams other peers may append to with the public `inbox` user. */
export const inboxKeys = {
  /** Signed hello / join request messages (with the sender's enrolment token). */
  joinRequests: 'spirt:inbox:join-requests',
  /** Signed credential messages: a database user and its password sealed to this peer's key. */
  credentials: 'spirt:inbox:credentials',
};

export function runKeys(run: string): RunKeys {
  const base = `spirt:${run}`;
  return {
    params: `${base}:model:params`,
    buffers: `${base}:model:buffers`,
    momentum: `${base}:model:momentum`,
    layout: `${base}:model:layout`,
    appliedStep: `${base}:model:applied-step`,
    shardGradient: (e, s, shard, peer) => `${base}:grad:${e}:${s}:${peer}:${shard}`,
    shardBuffers: (e, s, shard, peer) => `${base}:bufs:${e}:${s}:${peer}:${shard}`,
    averagedGradient: (e, s) => `${base}:grad:${e}:${s}:avg`,
    averagedBuffers: (e, s) => `${base}:bufs:${e}:${s}:avg`,
    averagedSignature: (e, s) => `${base}:sig:${e}:${s}:avg`,
    snapshot: (e, part) => `${base}:snapshot:${e}:${part}`,
    peerGradient: (e, s, peer) => `${base}:grad:${e}:${s}:from:${peer}`,
    peerBuffers: (e, s, peer) => `${base}:bufs:${e}:${s}:from:${peer}`,
    aggregatedGradient: (e, s) => `${base}:grad:${e}:${s}:agg`,
    syncStream: `${base}:stream:sync`,
    metricsStream: `${base}:stream:metrics`,
    membershipStream: `${base}:stream:membership`,
    plan: `${base}:plan`,
    anchor: `${base}:model:anchor`,
    syncedStep: `${base}:model:synced-step`,
    chaosFailOnce: (e, s, shard) => `${base}:chaos:fail-once:${e}:${s}:${shard}`,
    chaosTamper: (e, s) => `${base}:chaos:tamper:${e}:${s}`,
  };
}
