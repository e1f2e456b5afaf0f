import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { generatePeerKeys } from '../../lib/crypto/keys';
import { openPrivateKeys, sealPrivateKeys } from '../../lib/crypto/key-store';
import { SecurityError } from '../../lib/errors/security-error';
import { AwsKms } from '../../lib/kms/aws';
import { kmsFromConfig } from '../../lib/kms';
import { freePort } from '../../lib/stack/ports';
import { motoClientConfig, startMoto, type MotoServer } from '../support/moto';
import { reasonOfAsync } from '../helpers/security-error';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureOwnerPassword, identityKms, loadPeerIdentity } from '../../lib/peer/identity';
import { main } from '../../workers/cli/index';

// The AWS KMS adapter against moto in server mode (a real HTTP endpoint speaking the KMS API): what only it
// does. The protocol it shares with the local KMS is tested on both in kms-contract.test.ts.
let moto: MotoServer;
let keyId: string;
let kms: AwsKms;
const context = { purpose: 'test', peer: 'p1' };

beforeAll(async () => {
  moto = await startMoto();
  const admin = new KMSClient({ ...motoClientConfig, endpoint: moto.endpoint });
  const created = await admin.send(new CreateKeyCommand({ Description: 'spirt test key' }));
  admin.destroy();
  keyId = created.KeyMetadata!.KeyId!;
  kms = new AwsKms({ keyId, endpoint: moto.endpoint, ...motoClientConfig });
});

afterAll(async () => {
  await kms?.close();
  await moto?.stop();
});

describe('AwsKms against moto', () => {
  it('names a missing key without leaking anything else', async () => {
    const missing = new AwsKms({
      keyId: '00000000-0000-0000-0000-000000000000',
      endpoint: moto.endpoint,
      ...motoClientConfig,
    });
    try {
      await missing.encrypt(Buffer.from('secret'), context);
      throw new Error('expected a SecurityError');
    } catch (err) {
      expect((err as SecurityError).reason).toBe('kms-key');
      expect((err as Error).message).toMatch(/^AWS KMS Encrypt failed: key 0{8}-.* does not exist/);
      expect((err as Error).message).not.toContain('secret');
    } finally {
      await missing.close();
    }
  });

  it('reports an unreachable endpoint as kms-unavailable', async () => {
    const port = await freePort();
    const down = new AwsKms({ keyId, endpoint: `http://127.0.0.1:${port}`, ...motoClientConfig });
    expect(await reasonOfAsync(down.encrypt(Buffer.from('x'), context))).toBe('kms-unavailable');
    await down.close();
  });

  it('seals and opens peer keys (key-store) with the factory-built adapter', async () => {
    // The factory uses the SDK's default credential chain (here the environment); moto takes any credentials.
    const saved = { ...process.env };
    process.env.AWS_ACCESS_KEY_ID = 'testing';
    process.env.AWS_SECRET_ACCESS_KEY = 'testing';
    const viaFactory = kmsFromConfig({ kind: 'aws', keyId, endpoint: moto.endpoint, region: motoClientConfig.region });
    try {
      const keys = generatePeerKeys('modern');
      const record = await sealPrivateKeys(viaFactory, keys, context);
      expect(record.kms).toBe('aws');
      const stored = JSON.stringify(record);
      expect(stored).not.toContain(keys.signing.privateKey);
      expect(stored).not.toContain(keys.encryption.privateKey);
      expect(stored).not.toContain('PRIVATE KEY');
      expect(await openPrivateKeys(viaFactory, record, context)).toEqual(keys);
      expect(await reasonOfAsync(openPrivateKeys(viaFactory, record, { ...context, peer: 'p9' }))).toBe(
        'decrypt-failed',
      );
    } finally {
      await viaFactory.close();
      process.env = saved;
    }
  });

  it("spirt keys generate --kms aws seals a peer's keys under AWS KMS; the peer's identity opens with the unit's environment", async () => {
    const saved = { ...process.env };
    process.env.AWS_ACCESS_KEY_ID = 'testing';
    process.env.AWS_SECRET_ACCESS_KEY = 'testing';
    const dir = mkdtempSync(join(tmpdir(), 'spirt-aws-identity-'));
    const write = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      const args = ['keys', 'generate', '--peer', 'p7', '--out', dir, '--kms', 'aws', '--kms-key-id', keyId];
      expect(await main([...args, '--kms-endpoint', moto.endpoint, '--region', motoClientConfig.region])).toBe(0);
      // No master key file: the private keys open only through the peer's AWS KMS key.
      expect(readdirSync(dir).sort()).toEqual(['keys.sealed.json', 'pubkeys.json']);
      expect(JSON.parse(readFileSync(join(dir, 'keys.sealed.json'), 'utf8')).kms).toBe('aws');
      // A host's boot runs it every time: the second run leaves the keys as they are.
      expect(await main([...args, '--if-missing'])).toBe(0);
      expect(() => identityKms(dir, {})).toThrow(/sealed under AWS KMS: set SPIRT_KMS_KEY_ID/);
      const env = { SPIRT_KMS_KEY_ID: keyId, AWS_REGION: motoClientConfig.region, SPIRT_KMS_ENDPOINT: moto.endpoint };
      await ensureOwnerPassword(dir, 'p7', () => 'owner-secret', identityKms(dir, env));
      const identity = await loadPeerIdentity(dir, 'p7', identityKms(dir, env));
      expect(identity.ownerPassword).toBe('owner-secret');
      const pub = JSON.parse(readFileSync(join(dir, 'pubkeys.json'), 'utf8')) as { signingKey: string };
      expect(identity.keys.signing.publicKey).toBe(pub.signingKey);
      expect(readFileSync(join(dir, 'owner.sealed'), 'utf8')).not.toContain('owner-secret');
    } finally {
      write.mockRestore();
      rmSync(dir, { recursive: true, force: true });
      process.env = saved;
    }
  });
});
