import { openSealed, type SignedEnvelope } from '../../lib/crypto';
import { SecurityError } from '../../lib/errors/security-error';
import { credentialAad } from '../../lib/peer/security';
import { readTrustedPeer, recordSecurityEvent, recordTrustedPeer } from '../../lib/peer/trust';
import { connectRedis, describeRedisError } from '../../lib/redis/connect';
import { inboxKeys } from '../../lib/redis/keys';
import type { PeerQueues } from '../../lib/peer/network-file';
import { QUEUE_KINDS } from '../../lib/queue/types';
import type { ActivityDeps } from '../deps';
import { withHeartbeat } from '../heartbeat';
import type { CredentialOffer, HandshakeMessageType } from './messages';
import { requireSecurity } from './security-deps';
import { verifyFromPeer, verifyPeerEnrolment } from './verify';

export interface AcceptOffersInput {
  /** Peers whose offers this handshake waits for. */
  from: string[];
  /** Which inbox: join requests (hello, join-request) or credentials (welcome). */
  inbox: 'join-requests' | 'credentials';
  /** Message types accepted from that inbox. */
  types: HandshakeMessageType[];
  /** Only offers verified at or after this time (ms) count: an earlier handshake's records do not. */
  since: number;
  /** @default 30000 */
  timeoutMs?: number;
}

export interface AcceptOffersResult {
  trusted: string[];
  /** Every message refused while waiting, with the reason (also in the worker log and the security stream). */
  rejected: { from: string; reason: string }[];
  /** Awaited peers whose offer did not arrive in time. */
  missing: string[];
}

/**
 * Handshake, receiving side: reads this peer's inbox and, for each message, verifies the sender's
 * enrolment token (administrator key, network, expiry, revocation), the envelope (signature over type,
 * network, sender, recipient, nonce, time and payload hash; addressed to this peer; fresh; not replayed),
 * opens the sealed password and logs in with it. Only then is the sender recorded as trusted. A refused
 * message is logged with its reason and never fails the handshake: the wait goes on.
 */
export function makeAcceptOffers(deps: ActivityDeps) {
  return async function acceptOffers(input: AcceptOffersInput): Promise<AcceptOffersResult> {
    return withHeartbeat(() => accept(deps, input));
  };
}

async function accept(deps: ActivityDeps, input: AcceptOffersInput): Promise<AcceptOffersResult> {
  requireSecurity(deps);
  const own = await deps.directory.connection(deps.peerId);
  const reader = own.duplicate();
  reader.on('error', () => undefined);
  const stream = input.inbox === 'credentials' ? inboxKeys.credentials : inboxKeys.joinRequests;
  const cursorKey = `${stream}:cursor`;
  const deadline = Date.now() + (input.timeoutMs ?? 30_000);
  const rejected: { from: string; reason: string }[] = [];
  const waiting = new Set(input.from);
  const done = async () => {
    for (const peer of [...waiting]) {
      const t = await readTrustedPeer(own, peer);
      if (t?.credential && t.trustedAt >= input.since) waiting.delete(peer);
    }
    return waiting.size === 0;
  };
  try {
    while (!(await done()) && Date.now() < deadline) {
      const cursor = (await own.get(cursorKey)) ?? '0';
      const block = Math.max(1, Math.min(1000, deadline - Date.now()));
      const read = (await reader.xread('COUNT', 100, 'BLOCK', block, 'STREAMS', stream, cursor)) as
        [string, [string, string[]][]][] | null;
      for (const [id, fields] of read?.[0]?.[1] ?? []) {
        const raw = fields[fields.indexOf('msg') + 1];
        const outcome = await handle(deps, raw, input.types).catch((err: unknown) => ({
          from: senderOf(raw),
          type: typeOf(raw),
          reason: err instanceof SecurityError ? err.message : describeRedisError(err),
          ok: false,
        }));
        await own.set(cursorKey, id);
        await recordSecurityEvent(own, {
          event: outcome.ok ? 'accepted' : 'rejected',
          from: outcome.from,
          type: outcome.type,
          reason: outcome.reason,
        });
        if (!outcome.ok) {
          rejected.push({ from: outcome.from, reason: outcome.reason });
          deps.log.warn(
            { from: outcome.from, type: outcome.type, reason: outcome.reason },
            'handshake message rejected',
          );
        } else {
          deps.log.info({ from: outcome.from, type: outcome.type }, 'handshake: peer trusted');
        }
      }
    }
  } finally {
    reader.disconnect();
  }
  return { trusted: input.from.filter((p) => !waiting.has(p)), rejected, missing: [...waiting] };
}

async function handle(
  deps: ActivityDeps,
  raw: string | undefined,
  types: HandshakeMessageType[],
): Promise<{ from: string; type: string; reason: string; ok: boolean }> {
  const security = requireSecurity(deps);
  let envelope: SignedEnvelope<CredentialOffer>;
  try {
    envelope = JSON.parse(raw ?? '') as SignedEnvelope<CredentialOffer>;
  } catch {
    throw new SecurityError('malformed', 'the message is not JSON');
  }
  if (!envelope || typeof envelope !== 'object' || typeof envelope.payload !== 'object' || !envelope.payload) {
    throw new SecurityError('malformed', 'the message has no payload');
  }
  const from = String(envelope.sender);
  const type = String(envelope.type);
  if (!types.includes(type as HandshakeMessageType)) {
    throw new SecurityError('wrong-type', `a ${type} message is not expected here`);
  }
  const own = await deps.directory.connection(deps.peerId);
  const token = await verifyPeerEnrolment(deps, own, String(envelope.payload.enrolment), from);
  await verifyFromPeer(deps, own, envelope, token, type);
  const offer = envelope.payload;
  const password = openSealed(
    security.keys.encryption.privateKey,
    JSON.parse(offer.sealedPassword),
    credentialAad(security.network.network, from, deps.peerId),
  ).toString();
  // The credential must work before the peer is trusted: a wrong password is refused here, not mid-training.
  try {
    const probe = await connectRedis(
      { ...offer.redis, username: offer.username, password },
      { name: 'spirt-handshake' },
    );
    probe.disconnect();
  } catch (err) {
    throw new SecurityError('bad-credential', `its database credential does not work (${describeRedisError(err)})`);
  }
  await recordTrustedPeer(own, {
    peer: from,
    rank: offer.rank,
    redis: offer.redis,
    inbox: offer.inbox,
    ...(validQueues(offer.queues) ? { queues: offer.queues } : {}),
    taskQueue: offer.taskQueue,
    enrolment: offer.enrolment,
    signingKey: token.signingKey,
    encryptionKey: token.encryptionKey,
    credential: { username: offer.username, sealedPassword: offer.sealedPassword },
    userCreated: false,
    trustedAt: Date.now(),
  });
  deps.directory.forget(from);
  deps.keyRing?.forget(from);
  return { from, type, reason: 'verified', ok: true };
}

/** Queue URLs an offer may carry: one http(s) URL per kind, or none (it receives in its Redis streams). */
function validQueues(queues: unknown): queues is PeerQueues {
  if (typeof queues !== 'object' || queues === null) return false;
  return QUEUE_KINDS.every((k) => /^https?:\/\/\S+$/.test(String((queues as Record<string, unknown>)[k])));
}

function senderOf(raw: string | undefined): string {
  try {
    return String((JSON.parse(raw ?? '') as { sender?: unknown }).sender ?? 'unknown');
  } catch {
    return 'unknown';
  }
}

function typeOf(raw: string | undefined): string {
  try {
    return String((JSON.parse(raw ?? '') as { type?: unknown }).type ?? 'unknown');
  } catch {
    return 'unknown';
  }
}
