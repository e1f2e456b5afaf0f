// The administrator's side of a multi-host network file: create it, add a peer (enrolled, with its public
// endpoint and a fresh public inbox password). No secrets go into the file.
import { issueEnrolment, parseExpiry, type KeyPairPem } from '../crypto';
import type { PublicKeysFile } from '../crypto/public-keys';
import { ConfigError } from '../errors/config-error';
import { peerTaskQueue } from '../protocol/names';
import { inboxUser, randomPassword } from '../redis/acl';
import type { NetworkFile, NetworkPeer } from './network-file';

const ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export function newNetworkFile(
  name: string,
  adminPublicKey: string,
  temporal: { address: string; namespace: string },
): NetworkFile {
  if (!ID.test(name)) throw new ConfigError(`network name "${name}" must be letters, digits, - or _ (1-64)`);
  if (!/^[^\s:]+:\d{1,5}$/.test(temporal.address))
    throw new ConfigError(`Temporal address "${temporal.address}" must be host:port`);
  return { v: 1, network: name, adminPublicKey, temporal, peers: [] };
}

export interface AddPeerInput {
  pubkeys: PublicKeysFile;
  /** Public Redis endpoint, `host:port`. */
  redis: string;
  /** CA certificate (PEM) when the peer's Redis serves TLS. */
  tlsCa?: string;
  /** Token validity: a duration (30d) or an ISO date. */
  expires: string;
  standby?: boolean;
  /** @default the network name */
  taskQueuePrefix?: string;
}

/**
 * Returns `network` with the peer added (or replaced: same id), enrolled by `admin`.
 * @throws ConfigError for a bad endpoint, or an endpoint another peer already uses
 */
export function addNetworkPeer(
  network: NetworkFile,
  admin: KeyPairPem,
  input: AddPeerInput,
  now = new Date(),
): NetworkFile {
  const { pubkeys } = input;
  const m = /^([^\s:]+):(\d{1,5})$/.exec(input.redis);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535)
    throw new ConfigError(`--redis "${input.redis}" must be host:port`);
  const host = m[1];
  const port = Number(m[2]);
  const clash = network.peers.find((p) => p.id !== pubkeys.peer && p.redis.host === host && p.redis.port === port);
  if (clash) throw new ConfigError(`${input.redis} is already the Redis of peer ${clash.id}`);
  const others = network.peers.filter((p) => p.id !== pubkeys.peer);
  const existing = network.peers.find((p) => p.id === pubkeys.peer);
  const rank = existing?.rank ?? (others.length === 0 ? 0 : Math.max(...others.map((p) => p.rank)) + 1);
  const enrolment = issueEnrolment(admin.privateKey, {
    network: network.network,
    peer: pubkeys.peer,
    suite: pubkeys.suite,
    signingKey: pubkeys.signingKey,
    encryptionKey: pubkeys.encryptionKey,
    issuedAt: now,
    expiresAt: parseExpiry(input.expires, now),
  });
  const peer: NetworkPeer = {
    id: pubkeys.peer,
    rank,
    redis: { host, port, ...(input.tlsCa ? { tls: { ca: input.tlsCa } } : {}) },
    taskQueue: peerTaskQueue(input.taskQueuePrefix ?? network.network, pubkeys.peer),
    // Public by design: it may only append to the inboxes, whose messages are signed and verified.
    inbox: existing?.inbox ?? { username: inboxUser, password: randomPassword() },
    enrolment,
    ...(input.standby ? { standby: true } : {}),
  };
  return { ...network, peers: [...others, peer].sort((a, b) => a.rank - b.rank) };
}
