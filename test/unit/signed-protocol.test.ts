import { generatePeerKeys } from '../../lib/crypto';
import { initialOwners, unitsOf } from '../../lib/membership/redistribution';
import { heartbeatSigner } from '../../lib/peer/heartbeat-signer';
import type { KeyRing } from '../../lib/peer/key-ring';
import { checkSnapshot, signSnapshot, snapshotStatement, type SnapshotParts } from '../../lib/protocol/model-snapshot';
import { checkSyncSignature, signSyncFields } from '../../lib/protocol/signed-sync';
import { encodeSync } from '../../lib/protocol/sync-message';

const alice = generatePeerKeys('modern');
const mallory = generatePeerKeys('modern');

describe('signed sync messages', () => {
  const fields = encodeSync({ type: 'removed', run: 'r1', peer: 'p1', target: 'p3', epoch: 2, step: 5, reason: 'x' });

  it('verify with the sender key and refuse another key, a changed field or no signature', () => {
    const signed = signSyncFields(fields, alice.signing.privateKey);
    expect(checkSyncSignature(signed, alice.signing.publicKey)).toBeNull();
    expect(checkSyncSignature(signed, mallory.signing.publicKey)).toMatch(/bad signature/);
    const changed = [...signed];
    changed[changed.indexOf('step') + 1] = '6';
    expect(checkSyncSignature(changed, alice.signing.publicKey)).toMatch(/bad signature/);
    expect(checkSyncSignature(fields, alice.signing.publicKey)).toMatch(/unsigned/);
  });
});

describe('model snapshot manifest', () => {
  const parts: SnapshotParts = {
    params: Buffer.from([1, 2, 3, 4]),
    momentum: Buffer.from([5, 6, 7, 8]),
    buffers: null,
    layout: '{"tensors":[]}',
    appliedStep: '2:9',
  };
  const statement = snapshotStatement({ run: 'r1', epoch: 3, peer: 'p1' }, parts);
  const manifest = JSON.stringify(signSnapshot(statement, alice.signing.privateKey));
  const expected = { run: 'r1', epoch: 3, peer: 'p1', paramsSha256: statement.paramsSha256 };

  it('accepts the parts it was signed over', () => {
    expect(checkSnapshot(alice.signing.publicKey, manifest, expected, parts)).toBeNull();
  });

  it('refuses a flipped byte in any part, another signer, another admission, or no manifest', () => {
    const momentum = Buffer.from(parts.momentum as Buffer);
    momentum[0] ^= 1;
    expect(checkSnapshot(alice.signing.publicKey, manifest, expected, { ...parts, momentum })).toMatch(
      /momentum does not match/,
    );
    expect(checkSnapshot(mallory.signing.publicKey, manifest, expected, parts)).toMatch(/bad signature/);
    expect(checkSnapshot(alice.signing.publicKey, manifest, { ...expected, epoch: 4 }, parts)).toMatch(/epoch/);
    expect(checkSnapshot(alice.signing.publicKey, null, expected, parts)).toMatch(/no snapshot/);
  });
});

describe('signed heartbeats', () => {
  const ring = (keys: Record<string, string>) =>
    ({ signingKey: async (p: string) => keys[p] ?? null }) as unknown as KeyRing;

  it('verify for the writer only; a copied or unsigned value is refused', async () => {
    const p1 = heartbeatSigner('p1', alice.signing.privateKey, ring({ p1: alice.signing.publicKey }));
    const value = `abcd:7.${p1.sign('abcd:7')}`;
    const checker = heartbeatSigner(
      'p2',
      mallory.signing.privateKey,
      ring({ p1: alice.signing.publicKey, p3: alice.signing.publicKey }),
    );
    expect(await checker.check('p1', value)).toBeNull();
    // The same value read from p3's database (a copy) does not verify: the signature binds the writer's id.
    expect(await checker.check('p3', value)).toMatch(/bad signature/);
    expect(await checker.check('p1', 'abcd:7')).toMatch(/unsigned/);
    expect(await checker.check('p9', value)).toMatch(/not a trusted peer/);
  });
});

describe('a peer that joined after the start', () => {
  it('gets a contiguous share of all units; no unit is lost or owned twice', () => {
    const peers = ['p1', 'p2', 'p3', 'p4'];
    const owners = initialOwners(peers, peers, 2, 3);
    expect(Object.keys(owners).sort()).toEqual(['0/0', '0/1', '1/0', '1/1', '2/0', '2/1']);
    const shares = peers.map((p) => unitsOf(owners, p).length);
    expect(shares.reduce((a, b) => a + b, 0)).toBe(6);
    expect(Math.min(...shares)).toBeGreaterThanOrEqual(1);
    expect(unitsOf(owners, 'p4').length).toBeGreaterThan(0);
  });

  it('leaves the start-of-run assignment unchanged while only the first peers are active', () => {
    const peers = ['p1', 'p2', 'p3', 'p4'];
    expect(initialOwners(peers, ['p1', 'p2', 'p3'], 2, 3)).toEqual(
      initialOwners(peers.slice(0, 3), ['p1', 'p2', 'p3'], 2),
    );
  });
});
