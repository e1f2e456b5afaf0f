import { loadPeerIdentity } from '../peer/identity';
import type { RedisEndpoint } from '../redis/connect';
import type { StackFile } from './stack-file';

/**
 * The owner credential of a local peer's Redis, opened from its identity directory through its KMS: for
 * operator tools on the machine that runs the stack (benchmarks, chaos drills). Never sent anywhere.
 * @throws StackError for an unknown peer; SecurityError when the KMS refuses.
 */
export async function localOwnerEndpoint(stack: StackFile, peerId: string): Promise<RedisEndpoint> {
  const peer = stack.peers.find((p) => p.id === peerId);
  if (!peer) throw new Error(`no peer ${peerId} in this stack`);
  const identity = await loadPeerIdentity(peer.identityDir, peerId);
  return { host: peer.host, port: peer.port, password: identity.ownerPassword, ...(peer.tls ? { tls: peer.tls } : {}) };
}
