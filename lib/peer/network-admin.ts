// The administrator's side of a multi-host network file: create it, add a peer (enrolled, with its public
// endpoint and a fresh public inbox password). No secrets go into the file.
import { issueEnrolment, parseExpiry, type KeyPairPem } from '../crypto';
import type { PublicKeysFile } from '../crypto/public-keys';
import { ConfigError } from '../errors/config-error';
import { peerTaskQueue } from '../protocol/names';
import { inboxUser, randomPassword } from '../redis/acl';
import { QUEUE_KINDS, type QueueKind } from '../queue/types';
import type { NetworkFile, NetworkPeer, PeerQueues } from './network-file';

const ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export function newNetworkFile(
  name: string,
  adminPublicKey: string,
  temporal: { address: string; namespace: string },
  sqs?: { region: string; endpoint?: string },
): NetworkFile {
  if (!ID.test(name)) throw new ConfigError(`network name "${name}" must be letters, digits, - or _ (1-64)`);
  if (!/^[^\s:]+:\d{1,5}$/.test(temporal.address))
    throw new ConfigError(`Temporal address "${temporal.address}" must be host:port`);
  if (sqs && !/^[a-z]{2}(-[a-z]+)+-\d+$/.test(sqs.region))
    throw new ConfigError(`SQS region "${sqs.region}" is not an AWS region (like eu-west-1)`);
  if (sqs?.endpoint && !/^https?:\/\/\S+$/.test(sqs.endpoint))
    throw new ConfigError(`SQS endpoint "${sqs.endpoint}" must be an http(s) URL`);
  return {
    v: 1,
    network: name,
    adminPublicKey,
    temporal,
    ...(sqs ? { queues: { kind: 'sqs', ...sqs } } : {}),
    peers: [],
  };
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
  /** Its SQS queue URLs (a network whose messages go through SQS). */
  queues?: PeerQueues;
}

/**
 * `sync=URL,join-requests=URL,credentials=URL` as queue URLs.
 * @throws ConfigError naming a missing, unknown or malformed entry
 */
export function parseQueueUrls(text: string): PeerQueues {
  const out: Partial<PeerQueues> = {};
  for (const part of text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const at = part.indexOf('=');
    const kind = part.slice(0, at) as QueueKind;
    const url = part.slice(at + 1);
    if (at < 0 || !QUEUE_KINDS.includes(kind))
      throw new ConfigError(`--queues: "${part}" is not KIND=URL with KIND one of ${QUEUE_KINDS.join(', ')}`);
    if (!/^https?:\/\/\S+$/.test(url)) throw new ConfigError(`--queues: ${kind} "${url}" is not an http(s) URL`);
    out[kind] = url;
  }
  const missing = QUEUE_KINDS.filter((k) => !out[k]);
  if (missing.length > 0) throw new ConfigError(`--queues: no URL for ${missing.join(', ')}`);
  return out as PeerQueues;
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
  if (input.queues && !network.queues)
    throw new ConfigError(`network ${network.network} has no SQS settings: create it with --sqs-region to list queues`);
  if (!input.queues && network.queues)
    throw new ConfigError(`network ${network.network} sends messages through SQS: give the peer's --queues`);
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
    ...(input.queues ? { queues: input.queues } : {}),
  };
  return { ...network, peers: [...others, peer].sort((a, b) => a.rank - b.rank) };
}
