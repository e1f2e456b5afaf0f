// The two KMS adapters pass the same protocol tests: the local master-key KMS and AWS KMS (moto in server
// mode, a real HTTP endpoint speaking the KMS API). What each adapter alone does (key files; missing keys
// and unreachable endpoints) is in local-kms.test.ts and aws-kms.test.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { generatePeerKeys } from '../../lib/crypto/keys';
import { openPrivateKeys, sealPrivateKeys } from '../../lib/crypto/key-store';
import { SecurityError } from '../../lib/errors/security-error';
import { AwsKms } from '../../lib/kms/aws';
import { LocalKms } from '../../lib/kms/local';
import { KMS_MAX_PLAINTEXT, type Kms } from '../../lib/kms/types';
import { createPeerIdentity, loadPeerIdentity } from '../../lib/peer/identity';
import { reasonOfAsync } from '../helpers/security-error';
import { motoClientConfig, startMoto, type MotoServer } from '../support/moto';

let moto: MotoServer;
let dir: string;
const keyIds: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'spirt-kms-contract-'));
  moto = await startMoto();
  const admin = new KMSClient({ ...motoClientConfig, endpoint: moto.endpoint });
  for (const name of ['a', 'b']) {
    const created = await admin.send(new CreateKeyCommand({ Description: `spirt contract key ${name}` }));
    keyIds.push(created.KeyMetadata!.KeyId!);
  }
  admin.destroy();
});

afterAll(async () => {
  await moto?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Adapter {
  name: string;
  /** The adapter on key `which` (two distinct keys). */
  open(which: 0 | 1): Kms;
}

const adapters: Adapter[] = [
  { name: 'local', open: (which) => new LocalKms(join(dir, `master-${which}.key`)) },
  {
    name: 'AWS (moto)',
    open: (which) => new AwsKms({ keyId: keyIds[which], endpoint: moto.endpoint, ...motoClientConfig }),
  },
];

const context = { peer: 'p1', purpose: 'contract' };

describe.each(adapters)('$name KMS', (adapter) => {
  let kms: Kms;
  let other: Kms;
  beforeAll(() => {
    kms = adapter.open(0);
    other = adapter.open(1);
  });
  afterAll(async () => {
    await kms.close();
    await other.close();
  });

  it('round-trips under its context, and the ciphertext does not hold the plaintext', async () => {
    const blob = await kms.encrypt(Buffer.from('owner password'), context);
    expect(blob.includes(Buffer.from('owner password'))).toBe(false);
    expect((await kms.decrypt(blob, context)).toString()).toBe('owner password');
    // Context key order does not matter.
    expect((await kms.decrypt(blob, { purpose: 'contract', peer: 'p1' })).toString()).toBe('owner password');
  });

  it('two encryptions of one plaintext differ', async () => {
    const a = await kms.encrypt(Buffer.from('same'), context);
    const b = await kms.encrypt(Buffer.from('same'), context);
    expect(a.equals(b)).toBe(false);
  });

  it('refuses another context, no context, a flipped byte and another key', async () => {
    const blob = await kms.encrypt(Buffer.from('secret'), context);
    expect(await reasonOfAsync(kms.decrypt(blob, { ...context, peer: 'p2' }))).toBe('decrypt-failed');
    expect(await reasonOfAsync(kms.decrypt(blob, {}))).toBe('decrypt-failed');
    const flipped = Buffer.from(blob);
    flipped[flipped.length - 5] ^= 0x01;
    await expect(kms.decrypt(flipped, context)).rejects.toBeInstanceOf(SecurityError);
    await expect(other.decrypt(blob, context)).rejects.toBeInstanceOf(SecurityError);
  });

  it(`takes up to ${KMS_MAX_PLAINTEXT} bytes and refuses more, saying to use a data key`, async () => {
    const max = Buffer.alloc(KMS_MAX_PLAINTEXT, 7);
    expect((await kms.decrypt(await kms.encrypt(max, context), context)).equals(max)).toBe(true);
    await expect(kms.encrypt(Buffer.alloc(KMS_MAX_PLAINTEXT + 1), context)).rejects.toThrow(/use a data key/);
  });

  it('issues 256-bit data keys bound to their context', async () => {
    const dataKey = await kms.generateDataKey(context);
    expect(dataKey.plaintext).toHaveLength(32);
    expect(dataKey.ciphertext.includes(dataKey.plaintext)).toBe(false);
    expect((await kms.decrypt(dataKey.ciphertext, context)).equals(dataKey.plaintext)).toBe(true);
    expect(await reasonOfAsync(kms.decrypt(dataKey.ciphertext, { purpose: 'other' }))).toBe('decrypt-failed');
    const second = await kms.generateDataKey(context);
    expect(second.plaintext.equals(dataKey.plaintext)).toBe(false);
  });

  it('seals peer keys (key-store) that only the same context opens', async () => {
    const keys = generatePeerKeys('modern');
    const record = await sealPrivateKeys(kms, keys, context);
    expect(JSON.stringify(record)).not.toContain('PRIVATE KEY');
    expect(await openPrivateKeys(kms, record, context)).toEqual(keys);
    expect(await reasonOfAsync(openPrivateKeys(kms, record, { ...context, peer: 'p9' }))).toBe('decrypt-failed');
  });

  it("holds a peer's identity (keys and Redis owner password) that opens again after a restart", async () => {
    const identityDir = join(dir, `identity-${adapter.name.replace(/\W/g, '')}`);
    const created = await createPeerIdentity(identityDir, 'p1', 'modern', 'owner-pw-123', kms);
    const reopened = adapter.open(0);
    try {
      const loaded = await loadPeerIdentity(identityDir, 'p1', reopened);
      expect(loaded.keys).toEqual(created.keys);
      expect(loaded.ownerPassword).toBe('owner-pw-123');
      await expect(loadPeerIdentity(identityDir, 'p2', reopened)).rejects.toBeInstanceOf(SecurityError);
    } finally {
      await reopened.close();
    }
  });
});
