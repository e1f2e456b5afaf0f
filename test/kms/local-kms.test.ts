import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generatePeerKeys } from '../../lib/crypto/keys';
import { openPrivateKeys, sealPrivateKeys } from '../../lib/crypto/key-store';
import { kmsFromConfig, LocalKms } from '../../lib/kms';
import { reasonOf, reasonOfAsync } from '../helpers/security-error';

let dir: string;
const context = { purpose: 'peer-keys', peer: 'p1' };

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'spirt-kms-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('LocalKms master key file', () => {
  it('creates a 32-byte master key with mode 0600 in a 0700 folder', () => {
    const path = join(dir, 'peer', 'master.key');
    LocalKms.create(path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'peer')).mode & 0o777).toBe(0o700);
    expect(readFileSync(path)).toHaveLength(32);
  });

  it('refuses a master key file readable by group or others, saying how to fix it', () => {
    const path = join(dir, 'master.key');
    LocalKms.create(path);
    chmodSync(path, 0o644);
    expect(() => LocalKms.open(path)).toThrow(/has mode 0644: .*chmod 600/);
    expect(reasonOf(() => new LocalKms(path))).toBe('key-file');
    chmodSync(path, 0o640);
    expect(reasonOf(() => LocalKms.open(path))).toBe('key-file');
  });

  it('refuses a missing file (open), a short file, and replacing an existing key', () => {
    const path = join(dir, 'master.key');
    expect(() => LocalKms.open(path)).toThrow(/does not exist/);
    LocalKms.create(path);
    expect(() => LocalKms.create(path)).toThrow(/already exists/);
    writeFileSync(path, Buffer.alloc(16), { mode: 0o600 });
    expect(() => LocalKms.open(path)).toThrow(/holds 16 bytes/);
  });

  it('the constructor creates the key once and reopens the same key after', async () => {
    const path = join(dir, 'master.key');
    const blob = await new LocalKms(path).encrypt(Buffer.from('x'), context);
    expect((await new LocalKms(path).decrypt(blob, context)).toString()).toBe('x');
    expect(() => kmsFromConfig({ kind: 'local' })).toThrow(/masterKeyPath/);
  });
});

describe('LocalKms encryption', () => {
  it('round-trips with its context; a tampered blob or another context is refused', async () => {
    const kms = LocalKms.create(join(dir, 'master.key'));
    const blob = await kms.encrypt(Buffer.from('owner password'), context);
    expect(blob[0]).toBe(1);
    expect(blob.includes(Buffer.from('owner password'))).toBe(false);
    expect((await kms.decrypt(blob, context)).toString()).toBe('owner password');
    // Context key order does not matter; values do.
    expect((await kms.decrypt(blob, { peer: 'p1', purpose: 'peer-keys' })).toString()).toBe('owner password');
    expect(await reasonOfAsync(kms.decrypt(blob, { ...context, peer: 'p2' }))).toBe('decrypt-failed');
    for (const at of [20, blob.length - 1]) {
      const tampered = Buffer.from(blob);
      tampered[at] ^= 0x01;
      expect(await reasonOfAsync(kms.decrypt(tampered, context))).toBe('decrypt-failed');
    }
    const otherVersion = Buffer.from(blob);
    otherVersion[0] = 2;
    expect(await reasonOfAsync(kms.decrypt(otherVersion, context))).toBe('malformed');
  });

  it('a second master key cannot decrypt, and says it is another key', async () => {
    const first = LocalKms.create(join(dir, 'a.key'));
    const second = LocalKms.create(join(dir, 'b.key'));
    const blob = await first.encrypt(Buffer.from('secret'), context);
    await expect(second.decrypt(blob, context)).rejects.toThrow(/encrypted under local master key [0-9a-f]{16}/);
    expect(await reasonOfAsync(second.decrypt(blob, context))).toBe('wrong-key');
  });

  it('keeps the AWS plaintext limit so code that works locally works on AWS', async () => {
    const kms = LocalKms.create(join(dir, 'master.key'));
    expect(await reasonOfAsync(kms.encrypt(Buffer.alloc(4097), context))).toBe('malformed');
    const dataKey = await kms.generateDataKey(context);
    expect(dataKey.plaintext).toHaveLength(32);
    expect((await kms.decrypt(dataKey.ciphertext, context)).equals(dataKey.plaintext)).toBe(true);
  });
});

describe('key store with LocalKms', () => {
  it.each(['modern', 'rsa'] as const)('seals %s keys with no private key in clear and opens them', async (suite) => {
    const kms = LocalKms.create(join(dir, 'master.key'));
    const keys = generatePeerKeys(suite);
    const record = await sealPrivateKeys(kms, keys, context);
    const stored = JSON.stringify(record);
    expect(stored).not.toContain('PRIVATE KEY');
    expect(record.signingKey).toBe(keys.signing.publicKey);
    expect(await openPrivateKeys(kms, JSON.parse(stored), context)).toEqual(keys);
  });

  it('refuses a record whose public key was swapped, another context, or another master key', async () => {
    const kms = LocalKms.create(join(dir, 'master.key'));
    const keys = generatePeerKeys('modern');
    const record = await sealPrivateKeys(kms, keys, context);
    const other = generatePeerKeys('modern');
    expect(await reasonOfAsync(openPrivateKeys(kms, { ...record, signingKey: other.signing.publicKey }, context))).toBe(
      'decrypt-failed',
    );
    expect(await reasonOfAsync(openPrivateKeys(kms, record, { ...context, peer: 'p2' }))).toBe('decrypt-failed');
    const stranger = LocalKms.create(join(dir, 'other.key'));
    expect(await reasonOfAsync(openPrivateKeys(stranger, record, context))).toBe('wrong-key');
  });
});
