// What one peer's host needs to run that peer: written by `spirt up` for each local peer, or by an operator
// for `spirt peer start` on its own machine. No secrets: the peer's keys and Redis password are sealed
// under its KMS in `<dir>/identity`, and the network file is public.
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { StackError } from '../errors/stack-error';
import type { NetworkPeer } from '../peer/network-file';
import { QUEUE_KINDS } from '../queue/types';

export interface PeerConfig {
  v: 1;
  /** This peer's id (listed in the network file). */
  peer: string;
  /** Path of the network file: every peer's public endpoint, keys' enrolment and the Temporal target. */
  networkFile: string;
  /** The peer's own state: `identity/` (KMS-sealed keys), the Redis data (append-only file), logs. */
  dir: string;
  /** Address the peer's Redis listens on. @default the host the network file gives for this peer */
  bind?: string;
  /** Serve Redis over TLS only, with these files (the CA certificate is in the network file too). */
  tls?: { certFile: string; keyFile: string; caFile: string };
  /** Redis append-only file. @default true */
  appendOnly?: boolean;
  /**
   * The Redis server's forked children (its append-only file's rewrites) run at niceness 19 under Linux's
   * SCHED_IDLE (the module's `FORK_CHILD_IDLE`): they take the CPU only when no other thread of the host wants it.
   * @default true
   */
  redisForkIdle?: boolean;
  /** Functions running at once on this host (local pool). @default 2 */
  functions?: number;
  /**
   * Niceness of the local pool's function threads (0..19; Linux). The peer's coordination (its worker's main
   * thread, its Redis) then gets the CPU first when functions share a host with it, as it would with the
   * functions on Lambda. @default 19
   */
  functionNice?: number;
  /**
   * The local pool's function threads also take Linux's SCHED_IDLE policy: the peer's Redis and worker (and every
   * other process of the host) take the CPU from them as soon as they wake. Niceness alone weighs a thread only
   * against its own process's threads where each process is a scheduling group of its own (Linux autogroups).
   * Needs util-linux's `chrt`; without it, niceness only. @default true
   */
  functionIdle?: boolean;
  /** Temporal frontend and namespace. @default the network file's */
  temporal?: { address: string; namespace: string };
  /** A prebuilt workflow bundle shared by the workers of one machine. @default bundled by the worker */
  workflowBundle?: string;
  /** The worker's log (JSON lines). @default `<dir>/worker.log` */
  logFile?: string;
  /**
   * Run the functions on AWS Lambda instead of the local pool: each call carries this peer's Redis endpoint
   * and a `functions` database user's credential sealed under the peer's AWS KMS key (`kmsKeyId`), which
   * only the peer's function role can open. AWS credentials come from the environment or instance role.
   */
  lambda?: {
    region: string;
    functionNames: { 'compute-gradient': string; evaluate: string; 'zeno-scores': string };
    /** Endpoint override: one for all functions, or one per function (an emulator each in tests). */
    endpoint?: string | Partial<Record<'compute-gradient' | 'evaluate' | 'zeno-scores', string>>;
    kmsKeyId: string;
    /** KMS endpoint override (a VPC endpoint; moto in tests). */
    kmsEndpoint?: string;
  };
}

export function peerIdentityDir(config: PeerConfig): string {
  return join(config.dir, 'identity');
}

export function peerLogFile(config: PeerConfig): string {
  return config.logFile ?? join(config.dir, 'worker.log');
}

export function writePeerConfig(path: string, config: PeerConfig): void {
  writeFileSync(path, JSON.stringify(config, null, 2) + '\n', { mode: 0o600 });
  chmodSync(path, 0o600);
}

const ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** @throws StackError naming what is missing or malformed. */
export function readPeerConfig(path: string): PeerConfig {
  if (!existsSync(path)) throw new StackError(`no peer config at ${path}`);
  let c: Partial<PeerConfig>;
  try {
    c = JSON.parse(readFileSync(path, 'utf8')) as Partial<PeerConfig>;
  } catch (err) {
    throw new StackError(`${path} is not valid JSON: ${(err as Error).message}`);
  }
  const problems: string[] = [];
  if (c.v !== 1) problems.push('"v" must be 1');
  if (typeof c.peer !== 'string' || !ID.test(c.peer)) problems.push('"peer" must be a peer id');
  if (typeof c.networkFile !== 'string') problems.push('"networkFile" must be a path');
  if (typeof c.dir !== 'string') problems.push('"dir" must be a path');
  if (c.functions !== undefined && !(Number.isInteger(c.functions) && c.functions >= 1 && c.functions <= 256))
    problems.push('"functions" must be an integer 1..256');
  if (
    c.functionNice !== undefined &&
    !(Number.isInteger(c.functionNice) && c.functionNice >= 0 && c.functionNice <= 19)
  )
    problems.push('"functionNice" must be an integer 0..19');
  if (c.functionIdle !== undefined && typeof c.functionIdle !== 'boolean')
    problems.push('"functionIdle" must be true or false');
  if (c.redisForkIdle !== undefined && typeof c.redisForkIdle !== 'boolean')
    problems.push('"redisForkIdle" must be true or false');
  if (c.temporal !== undefined && (typeof c.temporal.address !== 'string' || typeof c.temporal.namespace !== 'string'))
    problems.push('"temporal" needs address and namespace');
  if (problems.length > 0) throw new StackError(`peer config ${path}: ${problems.join('; ')}`);
  const base = resolve(path, '..');
  const config = c as PeerConfig;
  return { ...config, networkFile: resolve(base, config.networkFile), dir: resolve(base, config.dir) };
}

/**
 * The functions' Lambda settings from the environment a deployed host's unit sets (deploy/lib/peer-host.ts):
 * `SPIRT_FUNCTIONS=lambda`, `AWS_REGION`, `SPIRT_KMS_KEY_ID` (the peer's key, which seals the functions'
 * Redis credential), `SPIRT_LAMBDA_COMPUTE_GRADIENT` / `_EVALUATE` / `_ZENO_SCORES` (function names), and
 * optionally `SPIRT_LAMBDA_ENDPOINT` / `SPIRT_KMS_ENDPOINT` (VPC endpoints). Null without
 * `SPIRT_FUNCTIONS=lambda` (the local pool).
 * @throws StackError naming every missing variable
 */
export function lambdaSettingsFromEnv(env: NodeJS.ProcessEnv): PeerConfig['lambda'] | null {
  const mode = env.SPIRT_FUNCTIONS;
  if (mode === undefined || mode === '' || mode === 'local') return null;
  if (mode !== 'lambda') throw new StackError(`SPIRT_FUNCTIONS="${mode}": use lambda or local`);
  const names = {
    'compute-gradient': env.SPIRT_LAMBDA_COMPUTE_GRADIENT,
    evaluate: env.SPIRT_LAMBDA_EVALUATE,
    'zeno-scores': env.SPIRT_LAMBDA_ZENO_SCORES,
  };
  const required: Record<string, string | undefined> = {
    AWS_REGION: env.AWS_REGION,
    SPIRT_KMS_KEY_ID: env.SPIRT_KMS_KEY_ID,
    SPIRT_LAMBDA_COMPUTE_GRADIENT: names['compute-gradient'],
    SPIRT_LAMBDA_EVALUATE: names.evaluate,
    SPIRT_LAMBDA_ZENO_SCORES: names['zeno-scores'],
  };
  const missing = Object.keys(required).filter((k) => !required[k]);
  if (missing.length > 0) throw new StackError(`SPIRT_FUNCTIONS=lambda needs ${missing.join(', ')}`);
  return {
    region: env.AWS_REGION!,
    functionNames: names as NonNullable<PeerConfig['lambda']>['functionNames'],
    kmsKeyId: env.SPIRT_KMS_KEY_ID!,
    ...(env.SPIRT_LAMBDA_ENDPOINT ? { endpoint: env.SPIRT_LAMBDA_ENDPOINT } : {}),
    ...(env.SPIRT_KMS_ENDPOINT ? { kmsEndpoint: env.SPIRT_KMS_ENDPOINT } : {}),
  };
}

/**
 * A deployed host's unit says `SPIRT_QUEUES=sqs` and its own queue URLs (`SPIRT_SQS_SYNC_URL`,
 * `SPIRT_SQS_JOIN_REQUESTS_URL`, `SPIRT_SQS_CREDENTIALS_URL`); the senders take the URLs from the network
 * file, so both must agree.
 * @throws StackError when they do not (a network file assembled without the deployment's queues)
 */
export function checkQueuesEnv(env: NodeJS.ProcessEnv, listed: NetworkPeer): void {
  const mode = env.SPIRT_QUEUES;
  if (mode === undefined || mode === '' || mode === 'redis') return;
  if (mode !== 'sqs') throw new StackError(`SPIRT_QUEUES="${mode}": use sqs or redis`);
  if (!listed.queues)
    throw new StackError(
      `SPIRT_QUEUES=sqs but the network file lists no queues for ${listed.id}: add them with spirt admin network add-peer --queues`,
    );
  for (const kind of QUEUE_KINDS) {
    const name = `SPIRT_SQS_${kind.toUpperCase().replace(/-/g, '_')}_URL`;
    const url = env[name];
    if (url && url !== listed.queues[kind])
      throw new StackError(
        `${name} is ${url} but the network file gives ${listed.id}'s ${kind} queue as ${listed.queues[kind]}`,
      );
  }
}
