import { createHash, randomBytes } from 'node:crypto';
import type Redis from 'ioredis';
import { inboxKeys, peerKeys } from './keys';

// Redis users of one peer's database (ARCHITECTURE.md section 8: least privilege).
//
// - `default`: the peer's own worker and functions (its owner); everything.
// - `inbox`: anyone holding the network file; may only PING and append to this peer's handshake inbox.
//   Its password is public by design: every message it lets in is signed and verified before use.
// - `peer:<id>`: one per trusted peer, created by the handshake with a random password that travels
//   encrypted to that peer's key. It may PING, read the heartbeat, read this peer's published averaged
//   gradients, buffers and their signatures and the admission snapshot, and append to this peer's sync
//   stream. It can never write the model, the momentum or the peer table (Redis answers NOPERM).

export const ownerUser = 'default';
export const inboxUser = 'inbox';

/** The ACL user name a peer gets in another peer's database. */
export function peerUser(peerId: string): string {
  return `peer:${peerId}`;
}

/** A fresh random password (192 bits, hex). */
export function randomPassword(): string {
  return randomBytes(24).toString('hex');
}

/** `#<sha256>`: how a password appears in redis.conf and ACL rules, so the config file holds no password. */
export function passwordHashRule(password: string): string {
  return `#${createHash('sha256').update(password).digest('hex')}`;
}

/** Rules of a `peer:<id>` user (after `reset`), for ACL SETUSER. */
export function peerUserRules(passwordHash: string): string[] {
  return [
    'reset',
    'on',
    passwordHash,
    '-@all',
    '+ping',
    '+get',
    '+getrange',
    '+strlen',
    '+exists',
    '+xadd',
    `%R~${peerKeys.heartbeat}`,
    '%R~spirt:*:grad:*:avg',
    '%R~spirt:*:bufs:*:avg',
    '%R~spirt:*:sig:*',
    '%R~spirt:*:snapshot:*',
    // XADD reads and writes its key; the command list above keeps this to appending.
    '~spirt:*:stream:sync',
  ];
}

/** The database user the peer's functions on AWS Lambda log in with. */
export const functionsUser = 'functions';

/**
 * Rules of the `functions` user: read the run plan and the model, write shard gradients and buffers, read
 * the gradients Zeno scores; no administrative or dangerous command, no other key.
 */
export function functionsUserRules(passwordHash: string): string[] {
  return [
    'reset',
    'on',
    passwordHash,
    '-@all',
    '+@read',
    '+@write',
    '+@connection',
    '+@transaction',
    '-@admin',
    '-@dangerous',
    '%R~spirt:*:plan',
    '%R~spirt:*:model:*',
    '~spirt:*:grad:*',
    '~spirt:*:bufs:*',
    '~spirt:*:chaos:*',
  ];
}

/** Rules of the `inbox` user, for redis.conf or ACL SETUSER. */
export function inboxUserRules(passwordHash: string): string[] {
  return [
    'reset',
    'on',
    passwordHash,
    '-@all',
    '+ping',
    '+xadd',
    `~${inboxKeys.joinRequests}`,
    `~${inboxKeys.credentials}`,
  ];
}

/** The aclfile line of the `inbox` user (no plaintext password). */
export function inboxAclLine(inboxPassword: string): string {
  return `user ${inboxUser} ${inboxUserRules(passwordHashRule(inboxPassword)).slice(1).join(' ')}`;
}

/** Creates or replaces the user another peer uses in this peer's Redis, and saves the users to the aclfile. */
export async function setPeerUser(redis: Redis, peerId: string, password: string): Promise<void> {
  await redis.call('ACL', 'SETUSER', peerUser(peerId), ...peerUserRules(passwordHashRule(password)));
  await saveAcl(redis);
}

/** Creates (or resets) the `functions` user with `password`. */
export async function setFunctionsUser(redis: Redis, password: string): Promise<void> {
  await redis.call('ACL', 'SETUSER', functionsUser, ...functionsUserRules(passwordHashRule(password)));
  await saveAcl(redis);
}

/** Deletes a peer's user (a removed or revoked peer); Redis also closes that user's open connections. */
export async function deletePeerUser(redis: Redis, peerId: string): Promise<boolean> {
  const deleted = ((await redis.call('ACL', 'DELUSER', peerUser(peerId))) as number) > 0;
  await saveAcl(redis);
  return deleted;
}

/** ACL SAVE when the server has an aclfile (users then survive a restart); a no-op otherwise. */
async function saveAcl(redis: Redis): Promise<void> {
  await redis.call('ACL', 'SAVE').catch((err: Error) => {
    if (!/no ACL file|not configured/i.test(err.message)) throw err;
  });
}
