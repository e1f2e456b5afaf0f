import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StackError } from '../errors/stack-error';
import { QUEUE_KINDS, type QueueKind } from '../queue/types';

/** One peer as every other peer and the administrator may know it. Nothing here is a secret. */
export interface NetworkPeer {
  id: string;
  rank: number;
  /** Where the peer's Redis answers; with `tls`, only over TLS, trusting that CA certificate (public). */
  redis: { host: string; port: number; tls?: { ca: string } };
  taskQueue: string;
  /**
   * The peer's public `inbox` user: it may only PING and append to the handshake inbox. Its password is
   * public by design (anything it lets in is signed and verified before use).
   */
  inbox: { username: string; password: string };
  /** The administrator's enrolment token for this peer (binds its id, public keys, network and expiry). */
  enrolment: string;
  /** Not yet part of the network: it joins later through the join handshake (`spirt peer add`). */
  standby?: boolean;
  /**
   * The URLs of its SQS queues, one per kind (`NetworkFile.queues`): other peers send it messages there and
   * its worker pumps them into its Redis. Without them, they append straight to its Redis streams.
   */
  queues?: PeerQueues;
}

/** A peer's inbound SQS queue URLs, by kind (lib/queue/types.ts). */
export type PeerQueues = Record<QueueKind, string>;

/** The public description of a network: what any peer or the administrator can hand out. */
export interface NetworkFile {
  v: 1;
  network: string;
  /** PEM public key of the administrator who signs enrolment tokens. */
  adminPublicKey: string;
  temporal: { address: string; namespace: string };
  /**
   * Where the peers' SQS queues are (their URLs are per peer). Credentials come from the environment or the
   * instance role, as for every AWS client.
   */
  queues?: { kind: 'sqs'; region: string; endpoint?: string };
  peers: NetworkPeer[];
}

export function networkFilePath(stateDir: string): string {
  return join(stateDir, 'network.json');
}

export function writeNetworkFile(stateDir: string, network: NetworkFile): void {
  writeNetworkFileAt(networkFilePath(stateDir), network);
}

/** Writes the network file at `path`, world-readable (it holds nothing secret). */
export function writeNetworkFileAt(path: string, network: NetworkFile): void {
  writeFileSync(path, JSON.stringify(network, null, 2) + '\n', { mode: 0o644 });
  chmodSync(path, 0o644);
}

/** @throws StackError when the file is missing or malformed. */
export function readNetworkFile(stateDir: string): NetworkFile {
  return readNetworkFileAt(networkFilePath(stateDir));
}

/** The network file at `path`. @throws StackError when it is missing or malformed. */
export function readNetworkFileAt(path: string): NetworkFile {
  if (!existsSync(path)) throw new StackError(`no network file at ${path}; start a stack with spirt up`);
  let parsed: NetworkFile;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8')) as NetworkFile;
  } catch (err) {
    throw new StackError(`${path} is not valid JSON: ${(err as Error).message}`);
  }
  if (parsed.v !== 1 || !Array.isArray(parsed.peers) || typeof parsed.adminPublicKey !== 'string') {
    throw new StackError(`${path} is not a spirt network file (version 1)`);
  }
  const problems = queueProblems(parsed);
  if (problems.length > 0) throw new StackError(`${path}: ${problems.join('; ')}`);
  return parsed;
}

/** @throws StackError for a peer the network file does not list. */
export function networkPeer(network: NetworkFile, peerId: string): NetworkPeer {
  const peer = network.peers.find((p) => p.id === peerId);
  if (!peer) throw new StackError(`peer ${peerId} is not in network ${network.network}`);
  return peer;
}

/** What is wrong with the network file's queue settings (nothing when it has none). */
function queueProblems(network: NetworkFile): string[] {
  const problems: string[] = [];
  const q = network.queues;
  if (q !== undefined) {
    if (q.kind !== 'sqs') problems.push('"queues.kind" must be "sqs"');
    if (typeof q.region !== 'string' || q.region === '') problems.push('"queues.region" must be an AWS region');
    if (q.endpoint !== undefined && !/^https?:\/\//.test(q.endpoint)) problems.push('"queues.endpoint" must be a URL');
  }
  for (const peer of network.peers) {
    if (peer.queues === undefined) continue;
    if (q === undefined) problems.push(`peer ${peer.id} lists queues but the network has no "queues" settings`);
    for (const kind of QUEUE_KINDS) {
      const url = (peer.queues as Partial<PeerQueues>)[kind];
      if (typeof url !== 'string' || !/^https?:\/\//.test(url))
        problems.push(`peer ${peer.id}: queues.${kind} must be a URL`);
    }
  }
  return problems;
}
