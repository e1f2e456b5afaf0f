// What one peer's host needs to run that peer: written by `spirt up` for each local peer, or by an operator
// for `spirt peer start` on its own machine. No secrets: the peer's keys and Redis password are sealed
// under its KMS in `<dir>/identity`, and the network file is public.
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { StackError } from '../errors/stack-error';

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
  /** Functions running at once on this host (local pool). @default 2 */
  functions?: number;
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
  if (c.temporal !== undefined && (typeof c.temporal.address !== 'string' || typeof c.temporal.namespace !== 'string'))
    problems.push('"temporal" needs address and namespace');
  if (problems.length > 0) throw new StackError(`peer config ${path}: ${problems.join('; ')}`);
  const base = resolve(path, '..');
  const config = c as PeerConfig;
  return { ...config, networkFile: resolve(base, config.networkFile), dir: resolve(base, config.dir) };
}
