import type { PeerQueues } from '../../lib/peer/network-file';

/** Handshake message kinds: hello (initialisation, Figure 2), join-request and welcome (join, Figure 3). */
export type HandshakeMessageType = 'hello' | 'join-request' | 'welcome';

/**
 * The payload of every handshake message: who the sender is (its enrolment token), where its database is,
 * and the user it created for the recipient, the password sealed to the recipient's encryption key.
 */
export interface CredentialOffer {
  enrolment: string;
  rank: number;
  taskQueue: string;
  redis: { host: string; port: number; tls?: { ca: string } };
  inbox: { username: string; password: string };
  /** The sender's SQS queues, when it receives through SQS (the recipient sends it sync messages there). */
  queues?: PeerQueues;
  username: string;
  /** JSON SealedBox. */
  sealedPassword: string;
}
