import type { PeerSecurity } from '../../lib/peer/security';
import type { ActivityDeps } from '../deps';

/** @throws Error when the worker was started without a security context (a test-only configuration). */
export function requireSecurity(deps: ActivityDeps): PeerSecurity {
  if (!deps.security) throw new Error(`peer ${deps.peerId} has no keys: its worker was started without an identity`);
  return deps.security;
}
