import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generatePeerKeys, openPrivateKeys, sealPrivateKeys, type KeySuite, type PeerKeys } from '../crypto';
import { StackError } from '../errors/stack-error';
import { AwsKms } from '../kms/aws';
import { LocalKms } from '../kms/local';
import type { Kms } from '../kms/types';

// One peer's identity on disk (its own directory, 0700; every file 0600):
//   master.key         the local KMS master key (none when the keys are sealed under AWS KMS)
//   keys.sealed.json   public keys in clear, private keys only as KMS ciphertext
//   owner.sealed       the password of the peer's own Redis `owner` user, KMS-encrypted
// Nothing else on the machine holds these secrets in the clear; the worker opens them at start.

export interface PeerIdentity {
  peer: string;
  keys: PeerKeys;
  /** Password of the `owner` user of this peer's own Redis. */
  ownerPassword: string;
}

const files = {
  master: 'master.key',
  keys: 'keys.sealed.json',
  owner: 'owner.sealed',
};

function context(peer: string, purpose: string): Record<string, string> {
  return { peer, purpose };
}

/** The local KMS of a peer's identity directory (creating its master key when missing). */
export function localKmsFor(dir: string): Kms {
  return new LocalKms(join(dir, files.master));
}

/**
 * The KMS an identity directory's keys are sealed under, as its sealed-keys record says: the local master key
 * file, or AWS KMS (a deployed host: `SPIRT_KMS_KEY_ID` names the peer's key, `AWS_REGION` its region,
 * `SPIRT_KMS_ENDPOINT` an endpoint override; credentials come from the instance role).
 * @throws StackError when the keys are under AWS KMS and no key id is set
 */
export function identityKms(dir: string, env: NodeJS.ProcessEnv = process.env): Kms {
  const path = join(dir, files.keys);
  let kind: unknown = 'local';
  if (existsSync(path)) {
    try {
      kind = (JSON.parse(readFileSync(path, 'utf8')) as { kms?: unknown }).kms;
    } catch (err) {
      throw new StackError(`${path} is not valid JSON: ${(err as Error).message}`);
    }
  }
  if (kind !== 'aws') return localKmsFor(dir);
  if (!env.SPIRT_KMS_KEY_ID)
    throw new StackError(`the keys in ${dir} are sealed under AWS KMS: set SPIRT_KMS_KEY_ID (and AWS_REGION)`);
  return new AwsKms({
    keyId: env.SPIRT_KMS_KEY_ID,
    ...(env.AWS_REGION ? { region: env.AWS_REGION } : {}),
    ...(env.SPIRT_KMS_ENDPOINT ? { endpoint: env.SPIRT_KMS_ENDPOINT } : {}),
  });
}

/**
 * Creates a peer's identity: key pairs (suite), the owner password, all sealed under the peer's KMS.
 * @returns the identity (private parts in memory only)
 * @throws StackError when an identity already exists in `dir`
 */
export async function createPeerIdentity(
  dir: string,
  peer: string,
  suite: KeySuite,
  ownerPassword: string,
  kms: Kms = localKmsFor(dir),
): Promise<PeerIdentity> {
  if (existsSync(join(dir, files.keys))) throw new StackError(`peer ${peer} already has an identity in ${dir}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const keys = generatePeerKeys(suite);
  const sealed = await sealPrivateKeys(kms, keys, context(peer, 'peer-keys'));
  writePrivate(join(dir, files.keys), JSON.stringify(sealed, null, 2));
  await sealOwnerPassword(dir, peer, ownerPassword, kms);
  return { peer, keys, ownerPassword };
}

/**
 * Opens a peer's identity through its KMS.
 * @throws StackError when the directory holds no identity; SecurityError when the KMS refuses.
 */
export async function loadPeerIdentity(dir: string, peer: string, kms: Kms = identityKms(dir)): Promise<PeerIdentity> {
  const keysPath = join(dir, files.keys);
  if (!existsSync(keysPath)) throw new StackError(`no identity for peer ${peer} in ${dir}`);
  const keys = await openPrivateKeys(kms, JSON.parse(readFileSync(keysPath, 'utf8')), context(peer, 'peer-keys'));
  const owner = await kms.decrypt(
    Buffer.from(readFileSync(join(dir, files.owner), 'utf8'), 'base64'),
    context(peer, 'redis-owner'),
  );
  return { peer, keys, ownerPassword: owner.toString() };
}

/**
 * Completes an identity made by `spirt keys generate` (key pairs only) with an owner password for the
 * peer's Redis, sealed under the same KMS; an identity that has one is left as it is.
 * @throws StackError when the directory holds no keys
 */
export async function ensureOwnerPassword(
  dir: string,
  peer: string,
  newPassword: () => string,
  kms: Kms = identityKms(dir),
): Promise<void> {
  if (!existsSync(join(dir, files.keys)))
    throw new StackError(`no keys for peer ${peer} in ${dir}: run spirt keys generate --peer ${peer} --out ${dir}`);
  if (!existsSync(join(dir, files.owner))) await sealOwnerPassword(dir, peer, newPassword(), kms);
}

async function sealOwnerPassword(dir: string, peer: string, password: string, kms: Kms): Promise<void> {
  const owner = await kms.encrypt(Buffer.from(password), context(peer, 'redis-owner'));
  writePrivate(join(dir, files.owner), owner.toString('base64'));
}

function writePrivate(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o600 });
  chmodSync(path, 0o600);
}
