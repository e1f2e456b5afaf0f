// Signatures on sync-stream entries (ready, removed, admitted): the sender signs the exact field list it
// appends, so a receiver can tell who wrote an entry even though several peers may append to its stream.
import { signBytes, verifyBytes } from '../crypto/sign';

const SIG = 'sig';

function signedPart(fields: readonly string[]): Buffer {
  const body: string[] = [];
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] !== SIG) body.push(fields[i], fields[i + 1]);
  return Buffer.from(JSON.stringify(['spirt-sync-v1', ...body]));
}

/** The field list with a `sig` field appended: the sender's signature over every other field. */
export function signSyncFields(fields: readonly string[], signingPrivateKey: string): string[] {
  return [...fields, SIG, signBytes(signingPrivateKey, signedPart(fields))];
}

/** @returns null when the entry carries a valid signature by `signingPublicKey`, else the reason it does not */
export function checkSyncSignature(fields: readonly string[], signingPublicKey: string): string | null {
  const at = fields.findIndex((f, i) => i % 2 === 0 && f === SIG);
  if (at < 0 || at + 1 >= fields.length) return 'unsigned sync message';
  return verifyBytes(signingPublicKey, signedPart(fields), fields[at + 1]) ? null : 'bad signature on sync message';
}
