import { checkSyncSignature, signSyncFields } from '../lib/protocol/signed-sync';
import { recordSecurityEvent } from '../lib/peer/trust';
import type { ActivityDeps } from './deps';

/** Signs a sync-stream entry with this peer's key (unchanged when the worker has no keys: unit tests). */
export function signedSync(deps: ActivityDeps, fields: string[]): string[] {
  return deps.security ? signSyncFields(fields, deps.security.keys.signing.privateKey) : fields;
}

/**
 * Checks a sync-stream entry claimed to come from `sender` against the key the handshake verified for it.
 * @returns null when it may be used, else why not (also logged, and recorded in the security stream)
 */
export async function refuseSync(
  deps: ActivityDeps,
  fields: string[],
  sender: string,
  context: Record<string, unknown>,
): Promise<string | null> {
  if (!deps.security || !deps.keyRing) return null;
  const key = await deps.keyRing.signingKey(sender);
  const reason = key ? checkSyncSignature(fields, key) : `sender ${sender} is not a trusted peer`;
  if (reason) {
    deps.log.warn({ ...context, from: sender, reason }, 'sync message refused');
    const own = await deps.directory.connection(deps.peerId);
    await recordSecurityEvent(own, { event: 'rejected', from: sender, type: 'sync', reason }).catch(() => undefined);
  }
  return reason;
}
