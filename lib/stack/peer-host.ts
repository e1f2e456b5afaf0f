// `spirt peer start`: one peer on this host, from its peer config and the network file. Starts its
// redis-server (bound to the configured address, with the module, AOF and TLS as configured) and its worker
// (connected to the network's Temporal), then greets the other founding peers with the initialisation
// handshake (retrying those not up yet). `spirt up` runs the same PeerProcesses for each local peer.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { StackError } from '../errors/stack-error';
import { ensureOwnerPassword, loadPeerIdentity } from '../peer/identity';
import { networkPeer, readNetworkFileAt, type NetworkFile } from '../peer/network-file';
import { inboxAclLine, randomPassword } from '../redis/acl';
import { connectTemporal } from '../train/connect';
import type { HandshakeResult, NetworkInitInput } from '../../workflows/join-handshake';
import { peerIdentityDir, peerLogFile, readPeerConfig, type PeerConfig } from './peer-config';
import { PeerProcesses } from './peer-processes';
import { readToolchain } from './paths';

export interface PeerHostOptions {
  configPath: string;
  /** Run the initialisation handshake with the other founding peers. @default true for a founder */
  init?: boolean;
  /** How long the handshake waits for the other peers. @default 90000 */
  initTimeoutMs?: number;
  onProgress?: (line: string) => void;
}

export interface PeerHost {
  config: PeerConfig;
  network: NetworkFile;
  processes: PeerProcesses;
  /** The handshake's outcome (null when it did not run). */
  handshake: HandshakeResult | null;
  /** Resolves with a description when this peer's redis-server or worker stops unexpectedly. */
  failure: Promise<string>;
  stop(): Promise<void>;
}

/** @throws StackError (or ConfigError) with what to fix; everything started is stopped first. */
export async function startPeerHost(opts: PeerHostOptions): Promise<PeerHost> {
  const progress = opts.onProgress ?? (() => undefined);
  const config = readPeerConfig(opts.configPath);
  const network = readNetworkFileAt(config.networkFile);
  const listed = networkPeer(network, config.peer);
  const toolchain = readToolchain();
  if (!toolchain.redisServer) throw new StackError('redis-server not found: install the Debian package redis-server');
  const identityDir = peerIdentityDir(config);
  await ensureOwnerPassword(identityDir, config.peer, randomPassword);
  const identity = await loadPeerIdentity(identityDir, config.peer);
  let reportFailure: (why: string) => void = () => undefined;
  const failure = new Promise<string>((resolve) => (reportFailure = resolve));
  const processes = new PeerProcesses({
    config,
    configPath: opts.configPath,
    listed,
    ownerPassword: identity.ownerPassword,
    redisServer: toolchain.redisServer,
    modulePath: toolchain.module,
    onUnexpectedExit: (what, how) => reportFailure(`${what} stopped (${how})`),
  });
  try {
    // A first start writes the aclfile with the public inbox user; a restart keeps the users the
    // handshakes created since (saved with ACL SAVE).
    const firstStart = !existsSync(join(config.dir, 'users.acl'));
    const bind = config.bind ?? listed.redis.host;
    progress(`starting redis-server of ${config.peer} on ${bind}:${listed.redis.port}${config.tls ? ' (TLS)' : ''}`);
    const redis = await processes.startRedis(firstStart ? [inboxAclLine(listed.inbox.password)] : null);
    progress(redis.moduleLoaded ? 'spirt module loaded' : 'spirt module not loaded: the Lua path serves tensor ops');
    const temporal = config.temporal ?? network.temporal;
    progress(
      `starting the worker (Temporal ${temporal.address}, namespace ${temporal.namespace}, task queue ${listed.taskQueue}; log ${peerLogFile(config)})`,
    );
    await processes.startWorker();
    let handshake: HandshakeResult | null = null;
    const founders = network.peers.filter((p) => !p.standby && p.id !== config.peer).map((p) => p.id);
    if ((opts.init ?? !listed.standby) && founders.length > 0) {
      progress(`greeting ${founders.join(', ')} (network ${network.network})`);
      handshake = await greet(temporal, network.network, config.peer, listed.taskQueue, founders, opts.initTimeoutMs);
      progress(
        `trusted by handshake: ${handshake.trusted.join(', ') || 'none'}` +
          (handshake.missing.length ? `; no hello yet from ${handshake.missing.join(', ')}` : '') +
          (handshake.rejected.length
            ? `; refused: ${handshake.rejected.map((r) => `${r.from} (${r.reason})`).join(', ')}`
            : ''),
      );
    }
    return { config, network, processes, handshake, failure, stop: () => processes.stop() };
  } catch (err) {
    await processes.stop();
    throw err;
  }
}

async function greet(
  temporal: { address: string; namespace: string },
  network: string,
  peer: string,
  taskQueue: string,
  others: string[],
  timeoutMs = 90_000,
): Promise<HandshakeResult> {
  const { client, connection } = await connectTemporal(temporal);
  try {
    const input: NetworkInitInput = { network, peer, peers: others, timeoutMs, retryOffers: true };
    return (await client.workflow
      .execute('networkInitWorkflow', {
        args: [input],
        taskQueue,
        workflowId: `spirt-${network}-init-${peer}-${Date.now().toString(36)}`,
      })
      .catch((err: Error & { cause?: Error }) => {
        throw new StackError(`the initialisation handshake of ${peer} failed: ${err.cause?.message ?? err.message}`);
      })) as HandshakeResult;
  } finally {
    await connection.close();
  }
}
