import { generatePeerKeys } from '../../lib/crypto/keys';
import { signBytes } from '../../lib/crypto/sign';
import { SecurityError } from '../../lib/errors/security-error';
import {
  envelopeSigningInput,
  MemoryReplayGuard,
  signEnvelope,
  verifyEnvelope,
  type ReplayGuard,
  type SignedEnvelope,
  type VerifyEnvelopeOptions,
} from '../../lib/protocol/envelope';

const p1 = generatePeerKeys('modern');
const p2 = generatePeerKeys('modern');
const now = 1_750_000_000_000;
const fields = {
  type: 'join-request',
  network: 'net1',
  sender: 'p1',
  recipient: 'p2',
  payload: { rank: 3, hello: 'p2' },
};

function options(overrides: Partial<VerifyEnvelopeOptions> = {}): VerifyEnvelopeOptions {
  return {
    senderPublicKey: p1.signing.publicKey,
    expectedRecipient: 'p2',
    expectedNetwork: 'net1',
    now,
    replay: new MemoryReplayGuard({ clock: () => now }),
    ...overrides,
  };
}

async function reasonOf(env: unknown, opts: VerifyEnvelopeOptions = options()): Promise<string> {
  try {
    await verifyEnvelope(env, opts);
  } catch (err) {
    expect(err).toBeInstanceOf(SecurityError);
    return (err as SecurityError).reason;
  }
  throw new Error('expected a SecurityError');
}

describe('signEnvelope', () => {
  it('fills nonce, ts and payload hash; a JSON round trip verifies', async () => {
    const env = signEnvelope(fields, p1.signing.privateKey, now);
    expect(env).toMatchObject({ v: 1, ts: now, sender: 'p1', recipient: 'p2', payload: fields.payload });
    expect(env.nonce).toMatch(/^[0-9a-f]{32}$/);
    expect(env.payloadHash).toMatch(/^[0-9a-f]{64}$/);
    expect(signEnvelope(fields, p1.signing.privateKey, now).nonce).not.toBe(env.nonce);
    const received = await verifyEnvelope<typeof fields.payload>(JSON.parse(JSON.stringify(env)), options());
    expect(received.payload.rank).toBe(3);
  });

  it('also works with RSA-PSS keys', async () => {
    const rsa = generatePeerKeys('rsa');
    const env = signEnvelope(fields, rsa.signing.privateKey, now);
    await expect(verifyEnvelope(env, options({ senderPublicKey: rsa.signing.publicKey }))).resolves.toBeDefined();
  });

  it('signs an unambiguous encoding: moving text between fields changes the signed bytes', () => {
    const base = { v: 1 as const, nonce: 'a'.repeat(32), ts: now, payloadHash: 'b'.repeat(64) };
    const one = envelopeSigningInput({ ...base, type: 't', network: 'n:p', sender: 'x', recipient: 'y' });
    const two = envelopeSigningInput({ ...base, type: 't', network: 'n', sender: 'p:x', recipient: 'y' });
    expect(one.equals(two)).toBe(false);
  });
});

describe('verifyEnvelope rejects', () => {
  it('a forged signature (signed by another peer claiming to be p1)', async () => {
    const forged = signEnvelope(fields, p2.signing.privateKey, now);
    expect(await reasonOf(forged)).toBe('bad-signature');
    await expect(verifyEnvelope(forged, options())).rejects.toThrow(
      /"join-request" message from "p1": signature does not verify/,
    );
  });

  it('a changed header field (re-addressed, re-typed, re-timed) as a bad signature', async () => {
    const env = signEnvelope(fields, p1.signing.privateKey, now);
    expect(await reasonOf({ ...env, recipient: 'p3' }, options({ expectedRecipient: 'p3' }))).toBe('bad-signature');
    expect(await reasonOf({ ...env, type: 'credentials' })).toBe('bad-signature');
    expect(await reasonOf({ ...env, ts: now + 1 })).toBe('bad-signature');
    expect(await reasonOf({ ...env, sender: 'p3' })).toBe('bad-signature');
  });

  it('a changed payload (payload hash)', async () => {
    const env = signEnvelope(fields, p1.signing.privateKey, now);
    expect(await reasonOf({ ...env, payload: { rank: 0, hello: 'p2' } })).toBe('payload-hash');
  });

  it('a reply addressed to another peer (reflection)', async () => {
    const toP3 = signEnvelope({ ...fields, recipient: 'p3' }, p1.signing.privateKey, now);
    expect(await reasonOf(toP3)).toBe('wrong-recipient');
    await expect(verifyEnvelope(toP3, options())).rejects.toThrow(/addressed to "p3", not to "p2"/);
  });

  it('another network and another message type', async () => {
    expect(await reasonOf(signEnvelope({ ...fields, network: 'net2' }, p1.signing.privateKey, now))).toBe(
      'wrong-network',
    );
    const env = signEnvelope(fields, p1.signing.privateKey, now);
    expect(await reasonOf(env, options({ expectedType: 'credentials' }))).toBe('wrong-type');
  });

  it('a stale message and one from the future, beyond maxSkewMs', async () => {
    expect(await reasonOf(signEnvelope(fields, p1.signing.privateKey, now - 60_001))).toBe('stale');
    expect(await reasonOf(signEnvelope(fields, p1.signing.privateKey, now + 60_001))).toBe('stale');
    expect(await reasonOf(signEnvelope(fields, p1.signing.privateKey, now - 5_000), options({ maxSkewMs: 1000 }))).toBe(
      'stale',
    );
    await expect(
      verifyEnvelope(signEnvelope(fields, p1.signing.privateKey, now - 59_000), options()),
    ).resolves.toBeDefined();
  });

  it('a replayed message, once the first copy was accepted', async () => {
    const opts = options();
    const env = signEnvelope(fields, p1.signing.privateKey, now);
    await verifyEnvelope(env, opts);
    expect(await reasonOf(JSON.parse(JSON.stringify(env)), opts)).toBe('replayed');
  });

  it('a forged copy does not use up the genuine message nonce', async () => {
    const opts = options();
    const env = signEnvelope(fields, p1.signing.privateKey, now);
    const forgedSameNonce = { ...env, sig: signBytes(p2.signing.privateKey, envelopeSigningInput(env)) };
    expect(await reasonOf(forgedSameNonce, opts)).toBe('bad-signature');
    await expect(verifyEnvelope(env, opts)).resolves.toBeDefined();
  });

  it('malformed envelopes', async () => {
    const env = signEnvelope(fields, p1.signing.privateKey, now);
    const bad: unknown[] = [
      null,
      'text',
      [],
      { ...env, v: 2 },
      { ...env, nonce: 'xyz' },
      { ...env, ts: '1' },
      { ...env, payloadHash: 'ABC' },
      { ...env, sender: '' },
      { ...env, sig: undefined },
      { ...env, payload: undefined },
    ];
    for (const value of bad) expect(await reasonOf(value)).toBe('malformed');
  });

  it('awaits an async replay guard (e.g. Redis SET NX)', async () => {
    const seen = new Set<string>();
    const replay: ReplayGuard = {
      seen: async (sender, nonce) => {
        await new Promise((resolve) => setImmediate(resolve));
        const key = `${sender}/${nonce}`;
        if (seen.has(key)) return true;
        seen.add(key);
        return false;
      },
    };
    const env: SignedEnvelope<unknown> = signEnvelope(fields, p1.signing.privateKey, now);
    await verifyEnvelope(env, options({ replay }));
    expect(await reasonOf(env, options({ replay }))).toBe('replayed');
  });
});

describe('MemoryReplayGuard', () => {
  it('remembers a nonce for the window past its timestamp, then forgets it', () => {
    let clock = now;
    const guard = new MemoryReplayGuard({ windowMs: 1000, clock: () => clock });
    expect(guard.seen('p1', 'n1', now)).toBe(false);
    expect(guard.seen('p1', 'n1', now)).toBe(true);
    expect(guard.seen('p2', 'n1', now)).toBe(false);
    clock = now + 1001;
    expect(guard.seen('p1', 'n2', clock)).toBe(false);
    expect(guard.size).toBe(1);
  });

  it('bounds memory: when full of unexpired nonces it refuses instead of forgetting one', () => {
    let clock = now;
    const guard = new MemoryReplayGuard({ windowMs: 1000, maxEntries: 3, clock: () => clock });
    for (const n of ['a', 'b', 'c']) guard.seen('p1', n, now);
    expect(() => guard.seen('p1', 'd', now)).toThrow(expect.objectContaining({ reason: 'replay-capacity' }));
    clock = now + 1500;
    expect(guard.seen('p1', 'd', clock)).toBe(false);
    expect(guard.size).toBe(1);
  });
});
