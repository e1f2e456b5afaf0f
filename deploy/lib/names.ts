// Names of the deployed resources, in one place: the stack, the network file and the tests agree on them.

/** The three stateless functions each peer runs on Lambda (the names of `lambdas/`). */
export const FUNCTION_NAMES = ['compute-gradient', 'evaluate', 'zeno-scores'] as const;
export type DeployedFunctionName = (typeof FUNCTION_NAMES)[number];

/** Each peer's inboxes: sync (step-ready / removed / admitted) and the two join-handshake inboxes. */
export const QUEUE_NAMES = ['sync', 'join-requests', 'credentials'] as const;
export type PeerQueueName = (typeof QUEUE_NAMES)[number];

/** `spirt-<network>-<peer>-<what>`: Lambda function names, SQS queue names, log groups. */
export function peerResourceName(network: string, peer: string, what: string): string {
  return `spirt-${network}-${peer}-${what}`;
}

/** The stack of one network. */
export function networkStackName(network: string): string {
  return `spirt-${network}`;
}

/**
 * The KMS encryption context key the function role's `kms:Decrypt` is conditioned on
 * (`kms:EncryptionContext:spirt:peer`), and the purpose that names the functions' Redis credential.
 */
export const CONTEXT_PEER = 'spirt:peer';
export const CONTEXT_PURPOSE = 'spirt:purpose';
export const FUNCTION_CREDENTIAL_PURPOSE = 'function-redis-credential';

/** Where the hosts read the network file and publish their public material in the network bucket. */
export const NETWORK_FILE_KEY = 'network.json';
export function peerPublicPrefix(peer: string): string {
  return `peers/${peer}/`;
}
