// A connection to the Temporal of a stack (or of --address) for the commands that talk to it.
import type { Client, Connection } from '@temporalio/client';
import { defaultStateDir } from '../../lib/stack/paths';
import { readStackFile } from '../../lib/stack/stack-file';
import { connectTemporal, type TemporalTarget } from '../../lib/train/connect';
import { latestRun } from '../../lib/train/control';
import { RunNotFoundError } from '../../lib/train/run-not-found-error';
import type { TemporalOptions } from './common';

export interface TemporalSession {
  client: Client;
  connection: Connection;
  target: TemporalTarget;
  /** The stack's peer ids (looked up by workflow id too), empty with --address. */
  knownPeers: string[];
  /** The stack's task queue of each peer, empty with --address. */
  taskQueues: Record<string, string>;
}

/** Connects to the Temporal of `--address`, else of the stack in `--state-dir`; runs `fn`; closes. */
export async function withTemporal<T>(
  options: TemporalOptions,
  fn: (session: TemporalSession) => Promise<T>,
): Promise<T> {
  let target: TemporalTarget;
  let knownPeers: string[] = [];
  let taskQueues: Record<string, string> = {};
  if (options.address) {
    target = { address: options.address, namespace: options.namespace ?? 'default' };
  } else {
    const stack = readStackFile(options.stateDir ?? defaultStateDir());
    target = { address: stack.temporal.address, namespace: options.namespace ?? stack.temporal.namespace };
    knownPeers = stack.peers.map((p) => p.id);
    taskQueues = Object.fromEntries(stack.peers.map((p) => [p.id, p.taskQueue]));
  }
  const { client, connection } = await connectTemporal(target);
  try {
    return await fn({ client, connection, target, knownPeers, taskQueues });
  } finally {
    await connection.close();
  }
}

/** `--run`, else the run whose peer workflow started last. @throws RunNotFoundError when there is none */
export async function resolveRun(session: TemporalSession, run: string | undefined): Promise<string> {
  if (run) return run;
  const latest = await latestRun(session.client);
  if (!latest) {
    throw new RunNotFoundError(
      `no spirt run in Temporal at ${session.target.address} (namespace ${session.target.namespace}); start one with spirt train`,
    );
  }
  return latest;
}
