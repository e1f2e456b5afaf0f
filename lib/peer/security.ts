import type { PeerKeys } from '../crypto';
import type { NetworkFile } from './network-file';

/**
 * One peer's security context, built once by its worker from its identity (private keys opened through
 * its KMS) and the public network file. Private keys live only in this process's memory.
 */
export interface PeerSecurity {
  network: NetworkFile;
  /** This peer's enrolment token (from the network file). */
  enrolment: string;
  keys: PeerKeys;
  /** Freshness window of signed messages. @default 60000 */
  maxSkewMs: number;
}

/** Additional data bound to a sealed database password: which network, from whom, to whom. */
export function credentialAad(network: string, sender: string, recipient: string): string {
  return `spirt-credential|${network}|${sender}|${recipient}`;
}
