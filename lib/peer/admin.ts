import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateAdminKeys, type KeyPairPem } from '../crypto';
import { LocalKms } from '../kms/local';
import type { Kms } from '../kms/types';

// The administrator's key on disk (a directory, 0700): `admin.key.sealed` holds the private key encrypted
// by the KMS (a local master key `master.key`, 0600, by default) and `admin.pub` the public key.

const files = { master: 'master.key', sealed: 'admin.key.sealed', pub: 'admin.pub' };
const context = { purpose: 'admin-key' };

/** The administrator key in `dir`, created when missing. */
export async function ensureAdminKey(dir: string, kms?: Kms): Promise<KeyPairPem> {
  return existsSync(join(dir, files.sealed)) ? loadAdminKey(dir, kms) : createAdminKey(dir, kms);
}

/** Creates the administrator key pair in `dir` (overwriting any previous one). */
export async function createAdminKey(dir: string, kms?: Kms): Promise<KeyPairPem> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const keys = await generateAdminKeys();
  const sealed = await (kms ?? new LocalKms(join(dir, files.master))).encrypt(Buffer.from(keys.privateKey), context);
  writeFileSync(join(dir, files.sealed), sealed.toString('base64'), { mode: 0o600 });
  writeFileSync(join(dir, files.pub), keys.publicKey, { mode: 0o644 });
  return keys;
}

/** Opens the administrator key in `dir` through its KMS. */
export async function loadAdminKey(dir: string, kms?: Kms): Promise<KeyPairPem> {
  const sealed = Buffer.from(readFileSync(join(dir, files.sealed), 'utf8'), 'base64');
  const privateKey = (await (kms ?? new LocalKms(join(dir, files.master))).decrypt(sealed, context)).toString();
  return { publicKey: readFileSync(join(dir, files.pub), 'utf8'), privateKey };
}
