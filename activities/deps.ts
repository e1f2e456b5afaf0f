import type { Invoker } from '../lib/invoker/types';
import type { Logger } from '../lib/log';
import type { MessageTransport } from '../lib/queue/types';
import type { KeyRing } from '../lib/peer/key-ring';
import type { GradientPrefetcher } from './prefetch';
import type { PrestartedCalls } from './prestart';
import type { PeerSecurity } from '../lib/peer/security';
import type { PeerMonitor } from '../lib/redis/peer-monitor';
import type { PeerDirectory } from '../lib/redis/peer-directory';

/** What every activity of one peer's worker needs; built once per worker. */
export interface ActivityDeps {
  /** This worker's peer id; its Redis is `directory.connection(peerId)`. */
  peerId: string;
  directory: PeerDirectory;
  invoker: Invoker;
  /**
   * Messages to other peers (sync, admissions, removals, handshake offers): through their SQS queues or
   * straight into their Redis streams (lib/queue/peer-transport.ts).
   */
  transport: MessageTransport;
  /** The worker's failure detector (heartbeat writer and prober), shared by the probe and barrier activities. */
  monitor: PeerMonitor;
  log: Logger;
  /**
   * Keys, enrolment and the network file. Every worker started by the stack has one; only tests that
   * exercise single steps go without (then nothing is signed or verified).
   */
  security?: PeerSecurity;
  /** Other peers' verified signing keys (present with `security`). */
  keyRing?: KeyRing;
  /** Copies other peers' gradients of the current step as they announce ready (activities/prefetch.ts). */
  prefetcher?: GradientPrefetcher;
  /** The next epoch's first function calls, started when an epoch's last update is applied (activities/prestart.ts). */
  prestarts?: PrestartedCalls;
}
