import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StackError } from '../errors/stack-error';

export interface StackPeer {
  id: string;
  rank: number;
  host: string;
  port: number;
  taskQueue: string;
  dataDir: string;
  /** The peer's identity directory: its KMS master key and KMS-sealed keys and owner password. */
  identityDir: string;
  /** Started but not part of the network yet: it joins through the join handshake (spirt peer add). */
  standby?: boolean;
  /** Its Redis serves TLS only; clients trust this CA certificate (PEM, public). */
  tls?: { ca: string };
}

export interface StackFile {
  id: string;
  pid: number;
  startedAt: string;
  temporal: { address: string; namespace: string; uiUrl: string };
  /** The network's name (enrolment tokens and signed messages are bound to it). */
  network: string;
  /** Every peer started, including standby peers. No secrets: each peer's are in its identity dir. */
  peers: StackPeer[];
  moduleLoaded: boolean;
  workflowBundle: string;
}

export function stackFilePath(stateDir: string): string {
  return join(stateDir, 'stack.json');
}

export function writeStackFile(stateDir: string, stack: StackFile): void {
  const path = stackFilePath(stateDir);
  writeFileSync(path, JSON.stringify(stack, null, 2), { mode: 0o600 });
  chmodSync(path, 0o600);
}

/** @throws StackError when no stack is running in this state dir. */
export function readStackFile(stateDir: string): StackFile {
  const path = stackFilePath(stateDir);
  if (!existsSync(path)) {
    throw new StackError(`no running stack in ${stateDir}; start one with: spirt up --peers N --state-dir ${stateDir}`);
  }
  const stack = JSON.parse(readFileSync(path, 'utf8')) as StackFile;
  if (!isAlive(stack.pid)) {
    throw new StackError(`the stack in ${stateDir} is not running (pid ${stack.pid} is gone); start it with spirt up`);
  }
  return stack;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
