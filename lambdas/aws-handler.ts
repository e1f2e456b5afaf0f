// The AWS Lambda face of the handlers: each call names the peer and carries that peer's Redis endpoint and
// its credential sealed under the peer's KMS key (FunctionEnvelope). The function opens the credential with
// its own role (cached for the container's life, keyed by the ciphertext), connects, and runs the handler.
import { AwsKms } from '../lib/kms/aws';
import { SecurityError } from '../lib/errors/security-error';
import {
  functionCredentialContext,
  type FunctionEnvelope,
  type FunctionEvents,
  type FunctionName,
  type FunctionResults,
} from '../lib/protocol/functions';
import { handlers } from './index';
import { configurePeerRedis } from './runtime';

let kms: AwsKms | null = null;
let opened: { ciphertext: string; username: string; password: string } | null = null;

async function openCredential(peer: string, ciphertext: string): Promise<{ username: string; password: string }> {
  if (opened?.ciphertext === ciphertext) return opened;
  const keyId = process.env.SPIRT_KMS_KEY_ID;
  if (!keyId) throw new SecurityError('kms-denied', 'function: SPIRT_KMS_KEY_ID is not set');
  kms ??= new AwsKms({
    keyId,
    ...(process.env.AWS_REGION ? { region: process.env.AWS_REGION } : {}),
    ...(process.env.SPIRT_KMS_ENDPOINT ? { endpoint: process.env.SPIRT_KMS_ENDPOINT } : {}),
  });
  const plain = await kms.decrypt(Buffer.from(ciphertext, 'base64'), functionCredentialContext(peer));
  const parsed = JSON.parse(plain.toString('utf8')) as { v?: number; username?: string; password?: string };
  if (parsed.v !== 1 || typeof parsed.username !== 'string' || typeof parsed.password !== 'string')
    throw new SecurityError('malformed', 'function: the credential is not a version 1 credential');
  opened = { ciphertext, username: parsed.username, password: parsed.password };
  return opened;
}

/**
 * The Lambda handler of one function.
 * @throws SecurityError for an event of another peer (SPIRT_PEER_ID) or a credential the KMS refuses
 */
export function awsHandler<K extends FunctionName>(fn: K) {
  return async (event: FunctionEnvelope<FunctionEvents[K]>): Promise<FunctionResults[K]> => {
    if (!event || event.v !== 1 || typeof event.peer !== 'string' || !event.redis || !event.request)
      throw new SecurityError('malformed', `${fn}: not a spirt function envelope (v 1)`);
    const self = process.env.SPIRT_PEER_ID;
    if (self && event.peer !== self)
      throw new SecurityError('wrong-recipient', `${fn}: this function serves peer ${self}, not ${event.peer}`);
    const { username, password } = await openCredential(event.peer, event.redis.credential);
    configurePeerRedis(
      {
        host: event.redis.host,
        port: event.redis.port,
        username,
        password,
        ...(event.redis.tls ? { tls: { ca: requireCa(fn, event.redis.ca) } } : {}),
      },
      { keepIfSame: true },
    );
    return (handlers[fn] as (e: FunctionEvents[K]) => Promise<FunctionResults[K]>)(event.request);
  };
}

function requireCa(fn: string, ca: string | undefined): string {
  if (!ca) throw new SecurityError('malformed', `${fn}: a TLS endpoint needs its CA certificate in the envelope`);
  return ca;
}
