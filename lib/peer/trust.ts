import type Redis from 'ioredis';
import { peerKeys } from '../redis/keys';
import type { PeerQueues } from './network-file';

/**
 * What this peer verified about another peer (the handshake's result), in its own Redis
 * (`spirt:trust:peers`). The credential the other peer gave us stays sealed to our encryption key at rest.
 */
export interface TrustedPeer {
  peer: string;
  rank: number;
  redis: { host: string; port: number; tls?: { ca: string } };
  taskQueue: string;
  /** Its public inbox user (to send it handshake messages). */
  inbox: { username: string; password: string };
  /** Its SQS queues, when it receives through SQS. */
  queues?: PeerQueues;
  /** The enrolment token that vouched for it (verified against the administrator key). */
  enrolment: string;
  signingKey: string;
  encryptionKey: string;
  /** Its database user for us, the password sealed to our encryption key (JSON SealedBox). */
  credential?: { username: string; sealedPassword: string };
  /** Whether we created its user in our database. */
  userCreated: boolean;
  trustedAt: number;
}

export async function readTrustedPeers(redis: Redis): Promise<TrustedPeer[]> {
  const all = await redis.hgetall(peerKeys.trustedPeers);
  return Object.values(all).map((v) => JSON.parse(v) as TrustedPeer);
}

export async function readTrustedPeer(redis: Redis, peerId: string): Promise<TrustedPeer | null> {
  const v = await redis.hget(peerKeys.trustedPeers, peerId);
  return v ? (JSON.parse(v) as TrustedPeer) : null;
}

/**
 * Merges `update` into the peer's record (creating it), atomically inside Redis: the offering and the
 * accepting side of a handshake may record the same peer at the same moment. A credential or an earlier
 * `userCreated` is kept when the update has none, and `trustedAt` never goes back.
 */
const MERGE_TRUSTED = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
local upd = cjson.decode(ARGV[2])
if cur then
  local c = cjson.decode(cur)
  for k, v in pairs(c) do if upd[k] == nil then upd[k] = v end end
  upd.userCreated = (upd.userCreated == true) or (c.userCreated == true)
  if (c.trustedAt or 0) > (upd.trustedAt or 0) then upd.trustedAt = c.trustedAt end
end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(upd))
return 1`;

export async function recordTrustedPeer(redis: Redis, update: TrustedPeer): Promise<void> {
  await redis.eval(MERGE_TRUSTED, 1, peerKeys.trustedPeers, update.peer, JSON.stringify(update));
}

export async function isRevoked(redis: Redis, peerId: string): Promise<string | null> {
  return redis.hget(peerKeys.revokedPeers, peerId);
}

/** Removes a peer from the trusted table and refuses it from now on. */
export async function revokePeer(redis: Redis, peerId: string, reason: string): Promise<void> {
  await redis.multi().hdel(peerKeys.trustedPeers, peerId).hset(peerKeys.revokedPeers, peerId, reason).exec();
}

/** Appends a handshake decision (accepted / rejected, with the reason) to the peer's security stream. */
export async function recordSecurityEvent(
  redis: Redis,
  event: { event: 'accepted' | 'rejected' | 'revoked' | 'sent'; from: string; type: string; reason: string },
): Promise<void> {
  await redis.xadd(
    peerKeys.securityStream,
    'MAXLEN',
    '~',
    '10000',
    '*',
    'event',
    event.event,
    'from',
    event.from,
    'type',
    event.type,
    'reason',
    event.reason,
  );
}
