import { Client, Connection } from '@temporalio/client';
import { StackError } from '../errors/stack-error';
import { temporalSecurityFromEnv } from './temporal-tls';

/** Where a Temporal frontend is: the stack file's `temporal` entry, or `--address` / `--namespace`. */
export interface TemporalTarget {
  address: string;
  namespace: string;
}

/**
 * One connection and a client on it; the caller closes the connection.
 * @throws StackError when Temporal does not answer within `connectTimeoutMs`.
 */
export async function connectTemporal(
  target: TemporalTarget,
  connectTimeoutMs = 3000,
): Promise<{ client: Client; connection: Connection }> {
  const connection = await Connection.connect({
    address: target.address,
    connectTimeout: connectTimeoutMs,
    ...temporalSecurityFromEnv(),
  }).catch((err: Error) => {
    throw new StackError(`cannot reach Temporal at ${target.address}: ${err.message}`);
  });
  return { client: new Client({ connection, namespace: target.namespace }), connection };
}
