import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities';
import { GradientPrefetcher } from '../activities/prefetch';
import { PrestartedCalls } from '../activities/prestart';
import type { ActivityDeps } from '../activities/deps';
import type { Invoker } from '../lib/invoker/types';
import { logger } from '../lib/log';
import { heartbeatSigner } from '../lib/peer/heartbeat-signer';
import { KeyRing } from '../lib/peer/key-ring';
import type { PeerSecurity } from '../lib/peer/security';
import type { PeerDirectory } from '../lib/redis/peer-directory';
import { PeerMonitor } from '../lib/redis/peer-monitor';
import { QueueError } from '../lib/errors/queue-error';
import { readTrustedPeer } from '../lib/peer/trust';
import { PeerTransport, sqsClientFor } from '../lib/queue/peer-transport';
import { SqsPump, type SqsSend } from '../lib/queue/sqs';

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
  /** SQS client for the network's queues (tests). @default one from the network file's `queues` settings */
  sqs?: SqsSend;
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
  const network = security?.network ?? null;
  const sqs = opts.sqs ?? (network?.queues ? sqsClientFor(network.queues) : undefined);
  const transport = new PeerTransport({
    network,
    connection: (peer) => opts.directory.connection(peer),
    queuesOf: async (peer) => (await readTrustedPeer(await opts.directory.connection(opts.peerId), peer))?.queues,
    ...(sqs ? { sqs } : {}),
  });
  // This peer's own queues, when it receives through SQS: pumped into its Redis streams for as long as the
  // worker runs (the protocol's readers only ever read those streams).
  const ownQueues = network?.peers.find((p) => p.id === opts.peerId)?.queues;
  if (ownQueues && !sqs)
    throw new QueueError(`peer ${opts.peerId} has SQS queues but the network file has no "queues" settings`);
  const pump =
    ownQueues && sqs
      ? new SqsPump({ client: sqs, queues: ownQueues, redis: await opts.directory.connection(opts.peerId), log })
      : null;
  const deps: ActivityDeps = {
    peerId: opts.peerId,
    directory: opts.directory,
    invoker: opts.invoker,
    transport,
    monitor,
    log,
    security,
    keyRing,
  };
  deps.prefetcher = new GradientPrefetcher(deps);
  deps.prestarts = new PrestartedCalls();
  const activities = createActivities(deps);
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
  pump?.start();
  if (pump) log.info({ queues: Object.keys(ownQueues ?? {}) }, "pumping this peer's SQS queues into its Redis");
  const run = worker.run.bind(worker);
  worker.run = async () => {
    try {
      return await run();
    } finally {
      monitor.stop();
      deps.prefetcher?.stop();
      await pump?.stop();
      await transport.close();
    }
  };
  return worker;
}
