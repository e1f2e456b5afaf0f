import type Redis from 'ioredis';
import {
  parseEnrolment,
  revocationCheck,
  verifyEnrolment,
  verifyEnvelope,
  type EnrolmentToken,
  type Revocation,
  type SignedEnvelope,
} from '../../lib/crypto';
import { SecurityError } from '../../lib/errors/security-error';
import { isRevoked } from '../../lib/peer/trust';
import { peerKeys } from '../../lib/redis/keys';
import type { ActivityDeps } from '../deps';
import { requireSecurity } from './security-deps';

/**
 * Verifies a peer's enrolment token against the administrator key, this network, its expiry, and this
 * peer's revocation list; the token must name `peerId`.
 * @throws SecurityError with the reason.
 */
export async function verifyPeerEnrolment(
  deps: ActivityDeps,
  own: Redis,
  enrolment: string,
  peerId: string,
): Promise<EnrolmentToken> {
  const security = requireSecurity(deps);
  const token = parseEnrolment(enrolment);
  const revoked = await isRevoked(own, token.peer);
  verifyEnrolment(token, {
    adminPublicKey: security.network.adminPublicKey,
    network: security.network.network,
    now: Date.now(),
    revoked: (peer: string, t: EnrolmentToken) => peer === token.peer && revokedToken(revoked, t),
  });
  if (token.peer !== peerId) {
    throw new SecurityError('malformed', `the enrolment token is for peer ${token.peer}, not ${peerId}`);
  }
  return token;
}

/**
 * Whether a revocation record of this peer's table refuses `token`: an administrator's revocation refuses the
 * tokens issued until it was made (a later re-enrolment is accepted); any other record refuses all.
 */
function revokedToken(record: string | null, token: EnrolmentToken): boolean {
  if (record === null) return false;
  try {
    const r = JSON.parse(record) as { revokedAt?: string };
    if (typeof r.revokedAt === 'string') return revocationCheck([r as Revocation])(token.peer, token);
  } catch {
    // a plain reason: revoked for good
  }
  return true;
}

/** A replay guard in this peer's Redis: a (sender, nonce) pair is accepted once within the freshness window. */
export function redisReplayGuard(own: Redis, windowMs: number) {
  return {
    async seen(sender: string, nonce: string): Promise<boolean> {
      const set = await own.set(peerKeys.seenNonce(sender, nonce), '1', 'PX', Math.max(1000, 2 * windowMs), 'NX');
      return set === null;
    },
  };
}

/**
 * Verifies a signed envelope sent to this peer by the holder of `token`: signature, recipient, network,
 * freshness and replay.
 * @throws SecurityError with the reason.
 */
export async function verifyFromPeer<T>(
  deps: ActivityDeps,
  own: Redis,
  envelope: SignedEnvelope<T>,
  token: EnrolmentToken,
  expectedType?: string,
): Promise<void> {
  const security = requireSecurity(deps);
  if (envelope.sender !== token.peer) {
    throw new SecurityError(
      'malformed',
      `sender ${envelope.sender} does not match its enrolment token (${token.peer})`,
    );
  }
  await verifyEnvelope(envelope, {
    senderPublicKey: token.signingKey,
    expectedRecipient: deps.peerId,
    expectedNetwork: security.network.network,
    expectedType,
    maxSkewMs: security.maxSkewMs,
    replay: redisReplayGuard(own, security.maxSkewMs),
  });
}
