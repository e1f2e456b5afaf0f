import { verifyRevocation, type Revocation } from '../../lib/crypto';
import { recordSecurityEvent, revokePeer } from '../../lib/peer/trust';
import { deletePeerUser } from '../../lib/redis/acl';
import type { ActivityDeps } from '../deps';
import { requireSecurity } from './security-deps';

/**
 * Applies an administrator's signed revocation on this peer: verifies it against the network's
 * administrator key, removes the peer from the trusted table and records the revocation (its tokens issued
 * until then are refused from now on), deletes its database user and forgets its key and connections.
 * @throws SecurityError when the revocation does not verify (nothing is changed)
 */
export function makeApplyRevocation(deps: ActivityDeps) {
  return async function applyRevocation(input: { revocation: Revocation }): Promise<{ userDeleted: boolean }> {
    const security = requireSecurity(deps);
    const revocation = verifyRevocation(input.revocation, security.network.adminPublicKey);
    const own = await deps.directory.connection(deps.peerId);
    await revokePeer(own, revocation.peer, JSON.stringify(revocation));
    const userDeleted = await deletePeerUser(own, revocation.peer);
    deps.keyRing?.forget(revocation.peer);
    deps.directory.forget(revocation.peer);
    await recordSecurityEvent(own, {
      event: 'revoked',
      from: revocation.peer,
      type: 'revocation',
      reason: `revoked by the administrator at ${revocation.revokedAt}`,
    });
    deps.log.warn({ peer: revocation.peer, revokedAt: revocation.revokedAt }, 'peer revoked');
    return { userDeleted };
  };
}
