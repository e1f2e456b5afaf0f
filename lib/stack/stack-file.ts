import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StackError } from '../errors/stack-error';

export interface StackPeer {
  id: string;
  rank: number;
  host: string;
  port: number;
  /** Redis password. The stack file is 0600 and never enters Temporal or logs. */
  password: string;
  taskQueue: string;
  dataDir: string;
}

export interface StackFile {
  id: string;
  pid: number;
  startedAt: string;
  temporal: { address: string; namespace: string; uiUrl: string };
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
