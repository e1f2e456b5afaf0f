import { sealTo, signEnvelope } from '../../lib/crypto';
import { recordSecurityEvent, recordTrustedPeer, readTrustedPeer, type TrustedPeer } from '../../lib/peer/trust';
import { credentialAad } from '../../lib/peer/security';
import { peerUser, randomPassword, setPeerUser } from '../../lib/redis/acl';
import { describeRedisError } from '../../lib/redis/connect';
import { inboxKeys } from '../../lib/redis/keys';
import { messageId } from '../../lib/queue/message-id';
import type { ActivityDeps } from '../deps';
import { requireSecurity } from './security-deps';
import type { CredentialOffer, HandshakeMessageType } from './messages';
import { verifyPeerEnrolment } from './verify';

export interface OfferCredentialsInput {
  /** hello (network initialisation), join-request (a newcomer), welcome (the answer to a join request). */
  type: HandshakeMessageType;
  /** Peers to give a database user to. */
  to: string[];
  /** This peer's enrolment token when its network file does not list it (a peer new to the network). */
  enrolment?: string;
}

export interface OfferCredentialsResult {
  sent: string[];
  failed: { peer: string; reason: string }[];
}

/**
 * Handshake, sending side (paper Figures 2 and 3): for each target peer whose enrolment token verifies,
 * creates its least-privilege user in this peer's Redis with a fresh random password, seals the password
 * to the target's encryption key, signs the offer and appends it to the target's inbox. The password never
 * leaves this process in the clear; Temporal sees only peer ids.
 */
export function makeOfferCredentials(deps: ActivityDeps) {
  return async function offerCredentials(input: OfferCredentialsInput): Promise<OfferCredentialsResult> {
    const security = requireSecurity(deps);
    const { network } = security;
    const own = await deps.directory.connection(deps.peerId);
    const self = network.peers.find((p) => p.id === deps.peerId);
    if (!self) throw new Error(`peer ${deps.peerId} is not in network ${network.network}`);
    const ownEnrolment = input.enrolment ?? security.enrolment;
    const sent: string[] = [];
    const failed: { peer: string; reason: string }[] = [];
    await Promise.all(
      input.to.map(async (target) => {
        try {
          const known = await readTrustedPeer(own, target);
          const listed = network.peers.find((p) => p.id === target);
          // The network file is current (a restarted stack has new inbox passwords); the trusted-peer table
          // covers peers that joined later.
          const enrolment = listed?.enrolment ?? known?.enrolment;
          if (!enrolment) throw new Error(`peer ${target} is neither in the network file nor trusted`);
          const token = await verifyPeerEnrolment(deps, own, enrolment, target);
          const inbox = listed?.inbox ?? known?.inbox;
          const redis = listed?.redis ?? known?.redis;
          if (!inbox || !redis) throw new Error(`no inbox address for peer ${target}`);
          const password = randomPassword();
          await setPeerUser(own, target, password);
          const payload: CredentialOffer = {
            enrolment: ownEnrolment,
            rank: self.rank,
            taskQueue: self.taskQueue,
            redis: self.redis,
            inbox: self.inbox,
            ...(self.queues ? { queues: self.queues } : {}),
            username: peerUser(target),
            sealedPassword: JSON.stringify(
              sealTo(token.encryptionKey, Buffer.from(password), credentialAad(network.network, deps.peerId, target)),
            ),
          };
          const envelope = signEnvelope(
            { type: input.type, network: network.network, sender: deps.peerId, recipient: target, payload },
            security.keys.signing.privateKey,
          );
          const record: TrustedPeer = {
            peer: target,
            rank: listed?.rank ?? known?.rank ?? -1,
            redis,
            inbox,
            taskQueue: listed?.taskQueue ?? known?.taskQueue ?? '',
            enrolment,
            signingKey: token.signingKey,
            encryptionKey: token.encryptionKey,
            userCreated: true,
            // Only the accepting side marks a peer trusted; the merge keeps the stored time.
            trustedAt: 0,
          };
          await recordTrustedPeer(own, record);
          const stream = input.type === 'welcome' ? inboxKeys.credentials : inboxKeys.joinRequests;
          const queues = listed?.queues ?? known?.queues;
          await deps.transport.deliver(
            target,
            { stream, fields: ['msg', JSON.stringify(envelope)], id: messageId() },
            { redis, inbox, ...(queues ? { queues } : {}) },
          );
          await recordSecurityEvent(own, {
            event: 'sent',
            from: target,
            type: input.type,
            reason: 'credential offered',
          });
          sent.push(target);
        } catch (err) {
          const reason = describeRedisError(err);
          failed.push({ peer: target, reason });
          deps.log.warn({ to: target, type: input.type, reason }, 'handshake: credential not offered');
        }
      }),
    );
    return { sent, failed };
  };
}
