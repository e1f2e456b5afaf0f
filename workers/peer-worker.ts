import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, PeerDirectory } from '../activities';
import type { Invoker } from '../lib/invoker/types';
import { logger } from '../lib/log';

export interface PeerWorkerOptions {
  connection: NativeConnection;
  namespace?: string;
  taskQueue: string;
  peerId: string;
  directory: PeerDirectory;
  invoker: Invoker;
  /** A prebuilt workflow bundle (shared by all peers of a stack), else workflows are bundled from source. */
  workflowBundlePath?: string;
}

/** One peer's Temporal worker: its own task queue, its activities bound to its Redis and function pool. */
export async function createPeerWorker(opts: PeerWorkerOptions): Promise<Worker> {
  const activities = createActivities({
    peerId: opts.peerId,
    directory: opts.directory,
    invoker: opts.invoker,
    log: logger.child({ peer: opts.peerId }),
  });
  const workflows: Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> = opts.workflowBundlePath
    ? { workflowBundle: { codePath: opts.workflowBundlePath } }
    : { workflowsPath: require.resolve('../workflows') };
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace ?? 'default',
    taskQueue: opts.taskQueue,
    activities,
    ...workflows,
    maxConcurrentActivityTaskExecutions: 16,
  });
}
