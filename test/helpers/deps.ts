import type { ActivityDeps } from '../../activities/deps';
import type { Invoker } from '../../lib/invoker/types';
import { logger } from '../../lib/log';
import type { PeerDirectory } from '../../lib/redis/peer-directory';
import { PeerMonitor } from '../../lib/redis/peer-monitor';
import { PeerTransport } from '../../lib/queue/peer-transport';

export const noInvoker: Invoker = {
  invoke: () => Promise.reject(new Error('not used')),
  close: async () => undefined,
};

/** Activity deps of one peer for activity tests: a monitor that is not started (no timers) unless asked. */
export function testDeps(peerId: string, directory: PeerDirectory, invoker: Invoker = noInvoker): ActivityDeps {
  return {
    peerId,
    directory,
    invoker,
    transport: new PeerTransport({ network: null, connection: (peer) => directory.connection(peer) }),
    monitor: new PeerMonitor(directory, peerId, logger),
    log: logger,
  };
}
