import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities';
import type { Invoker } from '../lib/invoker/types';
import { logger } from '../lib/log';
import { heartbeatSigner } from '../lib/peer/heartbeat-signer';
import { KeyRing } from '../lib/peer/key-ring';
import type { PeerSecurity } from '../lib/peer/security';
import type { PeerDirectory } from '../lib/redis/peer-directory';
import { PeerMonitor } from '../lib/redis/peer-monitor';

export interface PeerWorkerOptions {
  connection: NativeConnection;
  namespace?: string;
  taskQueue: string;
  peerId: string;
  directory: PeerDirectory;
  invoker: Invoker;
  /** Keys, enrolment and network file (see ActivityDeps.security). */
  security?: PeerSecurity;
  /** A prebuilt workflow bundle (shared by all peers of a stack), else workflows are bundled from source. */
  workflowBundlePath?: string;
}

/**
 * One peer's Temporal worker: its own task queue, its activities bound to its Redis and function pool, and
 * its failure detector (heartbeat writer + prober), which runs for as long as the worker does.
 */
export async function createPeerWorker(opts: PeerWorkerOptions): Promise<Worker> {
  const log = logger.child({ peer: opts.peerId });
  const { security } = opts;
  const keyRing = security
    ? new KeyRing(() => opts.directory.connection(opts.peerId), {
        peer: opts.peerId,
        signingKey: security.keys.signing.publicKey,
      })
    : undefined;
  const signer =
    security && keyRing ? heartbeatSigner(opts.peerId, security.keys.signing.privateKey, keyRing) : undefined;
  const monitor = new PeerMonitor(opts.directory, opts.peerId, log, undefined, signer);
  const activities = createActivities({
    peerId: opts.peerId,
    directory: opts.directory,
    invoker: opts.invoker,
    monitor,
    log,
    security,
    keyRing,
  });
  const workflows: Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> = opts.workflowBundlePath
    ? { workflowBundle: { codePath: opts.workflowBundlePath } }
    : { workflowsPath: require.resolve('../workflows') };
  const worker = await Worker.create({
    connection: opts.connection,
    namespace: opts.namespace ?? 'default',
    taskQueue: opts.taskQueue,
    activities,
    ...workflows,
    maxConcurrentActivityTaskExecutions: 16,
  });
  monitor.start();
  const run = worker.run.bind(worker);
  worker.run = async () => {
    try {
      return await run();
    } finally {
      monitor.stop();
    }
  };
  return worker;
}
