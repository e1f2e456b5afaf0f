import type { DeployConfig } from './config';
import type { DeployedFunctionName, PeerQueueName } from './names';

/**
 * What the stack outputs as `NetworkFile`: the deployed network as any peer or the administrator may know
 * it. Nothing here is secret (addresses, names, ARNs). It is the deployment's half of the network file:
 * the other half (administrator public key, enrolment tokens, inbox users, Redis CA certificates) comes
 * from enrolment, after the hosts have generated their keys (docs/deploy.md).
 */
export interface DeployedNetwork {
  v: 1;
  kind: 'spirt-deployment';
  network: string;
  region: string;
  temporal: { address: string; namespace: string; tls: boolean };
  /** Where the administrator publishes network.json for the hosts, and the hosts their public material. */
  networkBucket: string;
  adminKey: { keyArn: string; bucket: string };
  peers: DeployedPeer[];
}

export interface DeployedPeer {
  id: string;
  rank: number;
  /** The host's private address: reachable from the network's hosts and the peer's functions only. */
  redis: { host: string; port: number; tls: boolean };
  taskQueue: string;
  instanceId: string;
  kmsKeyArn: string;
  queues: Record<PeerQueueName, string>;
  functions: Record<DeployedFunctionName, string>;
}

/** The parts of a deployed network the config alone decides. */
export function deployedTemporal(config: DeployConfig): DeployedNetwork['temporal'] {
  return { address: config.temporal.address, namespace: config.temporal.namespace, tls: config.temporal.tls };
}
