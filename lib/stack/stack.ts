import type { ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { issueEnrolment, parseExpiry, type KeySuite } from '../crypto';
import { StackError } from '../errors/stack-error';
import { ensureAdminKey } from '../peer/admin';
import { createPeerIdentity, loadPeerIdentity, type PeerIdentity } from '../peer/identity';
import { networkFilePath, writeNetworkFile, type NetworkFile } from '../peer/network-file';
import { peerIdForRank, peerTaskQueue } from '../protocol/names';
import { inboxAclLine, inboxUser, randomPassword } from '../redis/acl';
import type { RedisEndpoint } from '../redis/connect';
import { describeExit } from './child';
import { writePeerConfig, type PeerConfig } from './peer-config';
import { PeerProcesses } from './peer-processes';
import { readToolchain } from './paths';
import { assertPortsFree } from './ports';
import { isAlive, stackFilePath, writeStackFile, type StackFile, type StackPeer } from './stack-file';
import { initialiseNetwork } from './network-init';
import { ensureLocalTls, readCa, type TlsFiles } from './tls';
import { startTemporalDevServer, type TemporalDevServer, type TemporalDevServerOptions } from './temporal-process';

export interface StackOptions {
  peers: number;
  /** Eager activity dispatch on the dev server (TemporalDevServerOptions.eagerActivities). @default false */
  eagerActivities?: boolean;
  stateDir: string;
  /** @default 7233 (UI on port + 1000) */
  temporalPort?: number;
  /** Peer i's Redis listens on redisPortBase + i. @default 6400 */
  redisPortBase?: number;
  /** Functions running at once per peer. @default 2 */
  functionsPerPeer?: number;
  /** Niceness of the peers' local function threads (PeerConfig.functionNice). @default 19 */
  functionNice?: number;
  /** Whether the peers' local function threads take SCHED_IDLE (PeerConfig.functionIdle). @default true */
  functionIdle?: boolean;
  /** Whether the peers' Redis servers run their forked children under SCHED_IDLE (PeerConfig.redisForkIdle). @default true */
  redisForkIdle?: boolean;
  /**
   * Extra peers started (Redis, worker, identity and enrolment) but not initialised into the network: they
   * join a running network later through the join handshake (`spirt peer add ID --enrolment TOKEN`).
   * @default 0
   */
  standby?: number;
  /**
   * Redis over TLS only, with a local CA and one certificate per peer made with openssl in
   * `<state dir>/tls` (the CA certificate goes into the network file). @default false
   */
  tls?: boolean;
  /** Key suite of the peers' keys. @default 'modern' */
  keySuite?: KeySuite;
  /** Validity of the enrolment tokens issued for the local network. @default '30d' */
  enrolmentValidity?: string;
  /** Stack id, part of every task queue name. @default 'local' */
  id?: string;
  /** Extra environment of every worker (AWS_PROFILE, AWS_REGION ...). */
  workerEnv?: Record<string, string>;
  /** Functions on AWS Lambda for some peers (their peer config's `lambda`); others use the local pool. */
  lambda?: (peerId: string) => PeerConfig['lambda'] | undefined;
  /** Progress lines: what is starting, and a peer's Redis or worker that stopped while the stack runs. */
  onProgress?: (line: string) => void;
}

export interface Stack {
  file: StackFile;
  /** `<state dir>/logs`: `<peer>.log` per worker (its JSON log lines), `temporal.log`. */
  logDir: string;
  stop(): Promise<void>;
  /**
   * Resolves with a description when the Temporal dev server dies unexpectedly. A peer's Redis or worker
   * that dies is only reported through onProgress (training is meant to survive it); a component stopped
   * through this object (killWorker, killRedis, stopTemporal, stop) never counts.
   */
  failure: Promise<string>;
  /** The current process ids of every peer's Redis and worker (a killed one keeps its last pid). */
  pids(): { peerId: string; redisPid: number; workerPid: number }[];
  /** SIGKILL the peer's worker and wait until it has exited. */
  killWorker(peerId: string): Promise<void>;
  /** Start the peer's worker again (stopping it first if it runs) and wait until it is ready. */
  restartWorker(peerId: string): Promise<void>;
  /** SIGKILL the peer's redis-server and wait until it has exited. */
  killRedis(peerId: string): Promise<void>;
  /** Credentials of a peer's own Redis (its `default` user), for operator tools and tests on this machine. */
  ownerEndpoint(peerId: string): RedisEndpoint;
  /** Start the peer's redis-server again: same port, password and data dir (its append-only file reloads). */
  restartRedis(peerId: string): Promise<void>;
  /** Stop the Temporal dev server (SIGTERM). */
  stopTemporal(): Promise<void>;
  /** Start the Temporal dev server again on the same ports and database file. */
  startTemporal(): Promise<void>;
}

/** The log file of one peer's worker in a state dir. */
export function workerLogPath(stateDir: string, peerId: string): string {
  return join(stateDir, 'logs', `${peerId}.log`);
}

/**
 * Starts the local stack: the Temporal dev server, one redis-server per peer and one worker process
 * per peer (its output appended to `<state dir>/logs/<peer>.log`). On any failure everything already
 * started is stopped before the error is thrown.
 */
export async function startStack(opts: StackOptions): Promise<Stack> {
  const progress = opts.onProgress ?? (() => undefined);
  const toolchain = readToolchain();
  if (!toolchain.temporal) {
    throw new StackError('temporal CLI not found: run npm run setup (it builds one), or set SPIRT_TEMPORAL_BIN');
  }
  if (!toolchain.redisServer) {
    throw new StackError(
      'redis-server not found: install the Debian package redis-server (or run npm run setup as root)',
    );
  }
  const redisServer = toolchain.redisServer;
  if (!(opts.peers >= 1 && opts.peers <= 64)) throw new StackError('--peers must be between 1 and 64');
  const stateDir = opts.stateDir;
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const logDir = join(stateDir, 'logs');
  mkdirSync(logDir, { recursive: true, mode: 0o700 });
  chmodSync(logDir, 0o700);
  const existing = stackFilePath(stateDir);
  if (existsSync(existing)) {
    const { pid } = JSON.parse(readFileSync(existing, 'utf8')) as { pid: number };
    if (isAlive(pid) && pid !== process.pid)
      throw new StackError(`a stack is already running in ${stateDir} (pid ${pid})`);
    rmSync(existing);
  }
  const id = opts.id ?? 'local';
  const temporalPort = opts.temporalPort ?? 7233;
  const redisPortBase = opts.redisPortBase ?? 6400;
  const standby = opts.standby ?? 0;
  if (!(standby >= 0 && standby <= 16)) throw new StackError('--standby must be between 0 and 16');
  const ranks = Array.from({ length: opts.peers + standby }, (_, rank) => rank);
  await assertPortsFree([
    { port: temporalPort, what: 'Temporal gRPC' },
    { port: temporalPort + 1000, what: 'Temporal UI' },
    ...ranks.map((rank) => ({ port: redisPortBase + rank, what: `Redis of peer ${peerIdForRank(rank)}` })),
  ]);

  let stopping = false;
  let reportFailure: (why: string) => void = () => undefined;
  const failure = new Promise<string>((resolve) => (reportFailure = resolve));

  const temporalOptions: TemporalDevServerOptions = {
    executable: toolchain.temporal,
    port: temporalPort,
    dbFile: join(stateDir, 'temporal', 'temporal.db'),
    logFile: join(logDir, 'temporal.log'),
    ...(opts.eagerActivities === true ? { eagerActivities: true } : {}),
  };
  let temporal: TemporalDevServer | null = null;
  /** The Temporal server being stopped on purpose (stopTemporal): its exit is not a failure. */
  const deliberate = new WeakSet<ChildProcess>();
  const processes = new Map<string, PeerProcesses>();
  const peers: StackPeer[] = [];
  const identities = new Map<string, PeerIdentity>();
  const tlsFiles = new Map<string, TlsFiles>();
  let stackFileWritten = false;

  const stopAll = async () => {
    stopping = true;
    const all = [...processes.values()];
    await Promise.all(all.map((p) => p.stopWorker()));
    if (stackFileWritten) rmSync(stackFilePath(stateDir), { force: true });
    await Promise.all(all.map((p) => p.stop()));
    await temporal?.stop().catch(() => undefined);
  };

  const ownerEndpoint = (peerId: string): RedisEndpoint => {
    const peer = peerOf(peerId);
    const identity = identities.get(peerId);
    if (!identity) throw new StackError(`peer ${peerId} has no identity loaded`);
    return {
      host: peer.host,
      port: peer.port,
      password: identity.ownerPassword,
      ...(peer.tls ? { tls: peer.tls } : {}),
    };
  };

  const startTemporal = async () => {
    const server = await startTemporalDevServer(temporalOptions);
    temporal = server;
    const report = (code: number | null, signal: NodeJS.Signals | null) => {
      if (!stopping && !deliberate.has(server.child))
        reportFailure(`Temporal dev server stopped unexpectedly (${describeExit(code, signal)})`);
    };
    if (server.child.exitCode !== null || server.child.signalCode !== null)
      report(server.child.exitCode, server.child.signalCode);
    else server.child.once('exit', report);
    return server;
  };

  const peerOf = (peerId: string): StackPeer => {
    const peer = peers.find((p) => p.id === peerId);
    if (!peer) throw new StackError(`no peer ${peerId} in this stack (peers ${peers.map((p) => p.id).join(', ')})`);
    return peer;
  };
  const processesOf = (peerId: string): PeerProcesses => {
    const p = processes.get(peerOf(peerId).id);
    if (!p) throw new StackError(`peer ${peerId} has no processes`);
    return p;
  };

  try {
    progress(`starting Temporal dev server on 127.0.0.1:${temporalPort}`);
    const firstTemporal = await startTemporal();

    const network = `spirt-${id}`;
    const suite = opts.keySuite ?? 'modern';
    progress(`creating identities and enrolments for network ${network}`);
    const admin = await ensureAdminKey(join(stateDir, 'admin'));
    const expiresAt = parseExpiry(opts.enrolmentValidity ?? '30d', new Date());
    const members: NetworkFile['peers'] = [];
    const redisProcesses = await Promise.all(
      ranks.map(async (rank) => {
        const peerId = peerIdForRank(rank);
        const dataDir = join(stateDir, 'peers', peerId);
        peers[rank] = {
          id: peerId,
          rank,
          host: '127.0.0.1',
          port: redisPortBase + rank,
          taskQueue: peerTaskQueue(id, peerId),
          dataDir,
          identityDir: join(dataDir, 'identity'),
          ...(rank >= opts.peers ? { standby: true } : {}),
        };
        if (opts.tls) {
          const files = ensureLocalTls(join(stateDir, 'tls'), peerId);
          tlsFiles.set(peerId, files);
          peers[rank].tls = { ca: readCa(files) };
        }
        const identityDir = peers[rank].identityDir;
        const identity = existsSync(join(identityDir, 'keys.sealed.json'))
          ? await loadPeerIdentity(identityDir, peerId)
          : await createPeerIdentity(identityDir, peerId, suite, randomPassword());
        identities.set(peerId, identity);
        const inbox = { username: inboxUser, password: randomPassword() };
        const enrolment = issueEnrolment(admin.privateKey, {
          network,
          peer: peerId,
          suite: identity.keys.suite,
          signingKey: identity.keys.signing.publicKey,
          encryptionKey: identity.keys.encryption.publicKey,
          expiresAt,
        });
        members[rank] = {
          id: peerId,
          rank,
          redis: {
            host: '127.0.0.1',
            port: redisPortBase + rank,
            ...(peers[rank].tls ? { tls: peers[rank].tls } : {}),
          },
          taskQueue: peers[rank].taskQueue,
          inbox,
          enrolment,
          ...(rank >= opts.peers ? { standby: true } : {}),
        };
        const config: PeerConfig = {
          v: 1,
          peer: peerId,
          networkFile: networkFilePath(stateDir),
          dir: dataDir,
          functions: opts.functionsPerPeer ?? 2,
          ...(opts.functionNice !== undefined ? { functionNice: opts.functionNice } : {}),
          ...(opts.functionIdle !== undefined ? { functionIdle: opts.functionIdle } : {}),
          ...(opts.redisForkIdle !== undefined ? { redisForkIdle: opts.redisForkIdle } : {}),
          workflowBundle: join(stateDir, 'workflow-bundle.js'),
          logFile: workerLogPath(stateDir, peerId),
          ...(tlsFiles.has(peerId) ? { tls: tlsFiles.get(peerId) } : {}),
          ...(opts.lambda?.(peerId) ? { lambda: opts.lambda(peerId) } : {}),
        };
        const configPath = join(dataDir, 'peer.json');
        mkdirSync(dataDir, { recursive: true, mode: 0o700 });
        writePeerConfig(configPath, config);
        const p = new PeerProcesses({
          config,
          configPath,
          listed: members[rank],
          ownerPassword: identity.ownerPassword,
          redisServer,
          modulePath: toolchain.module,
          ...(opts.workerEnv ? { env: opts.workerEnv } : {}),
          onUnexpectedExit: (what, how) => {
            if (!stopping) progress(`${what} stopped (${how})`);
          },
        });
        processes.set(peerId, p);
        return p.startRedis([inboxAclLine(inbox.password)]);
      }),
    );
    progress(
      `started ${ranks.length} redis-server processes${redisProcesses[0].moduleLoaded ? ' with the spirt module' : ' (Lua path: module not built)'}`,
    );
    writeNetworkFile(stateDir, {
      v: 1,
      network,
      adminPublicKey: admin.publicKey,
      temporal: { address: firstTemporal.address, namespace: 'default' },
      peers: members,
    });

    progress('bundling workflow code');
    const bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows'), logger: quietLogger });
    const bundlePath = join(stateDir, 'workflow-bundle.js');
    writeFileSync(bundlePath, bundle.code);

    const file: StackFile = {
      id,
      pid: process.pid,
      startedAt: new Date().toISOString(),
      temporal: { address: firstTemporal.address, namespace: 'default', uiUrl: firstTemporal.uiUrl },
      network,
      peers,
      moduleLoaded: redisProcesses.every((r) => r.moduleLoaded),
      workflowBundle: bundlePath,
    };
    writeStackFile(stateDir, file);
    stackFileWritten = true;

    progress(`starting ${peers.length} peer workers (logs in ${logDir})`);
    await Promise.all(peers.map((peer) => processesOf(peer.id).startWorker()));

    const founders = peers.filter((p) => !p.standby);
    progress(`initialising network ${network}: signed hellos and sealed credentials between ${founders.length} peers`);
    await initialiseNetwork(
      { address: firstTemporal.address, namespace: 'default' },
      network,
      founders,
      30_000,
      peers.filter((p) => p.standby),
    );

    return {
      file,
      logDir,
      failure,
      stop: stopAll,
      pids: () =>
        peers.map((p) => ({
          peerId: p.id,
          redisPid: processes.get(p.id)?.redis?.child.pid ?? -1,
          workerPid: processes.get(p.id)?.worker?.pid ?? -1,
        })),
      ownerEndpoint,
      killWorker: async (peerId) => processesOf(peerId).killWorker(),
      restartWorker: async (peerId) => processesOf(peerId).restartWorker(),
      killRedis: async (peerId) => processesOf(peerId).killRedis(),
      restartRedis: async (peerId) => processesOf(peerId).restartRedis(),
      stopTemporal: async () => {
        if (!temporal) return;
        deliberate.add(temporal.child);
        await temporal.stop();
      },
      startTemporal: async () => {
        const current = temporal;
        if (current && current.child.exitCode === null && current.child.signalCode === null) {
          throw new StackError('the Temporal dev server is running; stop it first');
        }
        await startTemporal();
      },
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

const quietLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
