import { createPrivateKey, createPublicKey } from 'node:crypto';
import { canonicalHash, canonicalJson } from '../../lib/crypto/canonical';
import { assertKeyType, generatePeerKeys, keyFingerprint, type PeerKeys } from '../../lib/crypto/keys';
import { signBytes, verifyBytes } from '../../lib/crypto/sign';
import { SecurityError } from '../../lib/errors/security-error';

// Generated once: two 3072-bit RSA keys take about a second.
const suites: Record<'modern' | 'rsa', PeerKeys> = { modern: generatePeerKeys('modern'), rsa: generatePeerKeys('rsa') };

describe('generatePeerKeys', () => {
  it('modern: Ed25519 signing and X25519 encryption, SPKI / PKCS#8 PEM', () => {
    const keys = generatePeerKeys();
    expect(keys.suite).toBe('modern');
    expect(createPublicKey(keys.signing.publicKey).asymmetricKeyType).toBe('ed25519');
    expect(createPublicKey(keys.encryption.publicKey).asymmetricKeyType).toBe('x25519');
    expect(keys.signing.publicKey).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    // PKCS#8 PEM: re-exporting the parsed key as PKCS#8 gives the same text back.
    const priv = createPrivateKey(keys.signing.privateKey);
    expect(priv.asymmetricKeyType).toBe('ed25519');
    expect(priv.export({ type: 'pkcs8', format: 'pem' })).toBe(keys.signing.privateKey);
  });

  it('rsa: 3072-bit RSA-PSS (SHA-256) signing and RSA encryption', () => {
    const signing = createPublicKey(suites.rsa.signing.publicKey);
    expect(signing.asymmetricKeyType).toBe('rsa-pss');
    expect(signing.asymmetricKeyDetails).toMatchObject({ modulusLength: 3072, hashAlgorithm: 'sha256' });
    expect(createPublicKey(suites.rsa.encryption.publicKey).asymmetricKeyDetails?.modulusLength).toBe(3072);
    expect(() => assertKeyType(suites.rsa.signing.publicKey, 'rsa', 'signing')).not.toThrow();
    expect(() => assertKeyType(suites.rsa.signing.publicKey, 'modern', 'signing')).toThrow(
      /is rsa-pss, but suite modern needs ed25519/,
    );
  });

  it('an unknown suite is a clear error', () => {
    expect(() => generatePeerKeys('dsa' as 'rsa')).toThrow(/unknown key suite "dsa"/);
  });
});

describe('keyFingerprint', () => {
  it('is 32 hex digits, stable for a key, different for another key', () => {
    const fp = keyFingerprint(suites.modern.signing.publicKey);
    expect(fp).toMatch(/^[0-9a-f]{32}$/);
    expect(keyFingerprint(suites.modern.signing.publicKey)).toBe(fp);
    expect(keyFingerprint(suites.modern.encryption.publicKey)).not.toBe(fp);
  });

  it('refuses a private key or garbage', () => {
    expect(() => keyFingerprint(suites.modern.signing.privateKey)).toThrow(SecurityError);
    expect(() => keyFingerprint('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----')).toThrow(
      /does not parse/,
    );
  });
});

describe.each(['modern', 'rsa'] as const)('signBytes / verifyBytes (%s)', (suite) => {
  const keys = suites[suite];
  const data = Buffer.from('spirt message');

  it('verifies its own signature', () => {
    expect(verifyBytes(keys.signing.publicKey, data, signBytes(keys.signing.privateKey, data))).toBe(true);
  });

  it('refuses a signature by another key (forged) and altered data', () => {
    const forger = generatePeerKeys('modern');
    const forged = signBytes(forger.signing.privateKey, data);
    expect(verifyBytes(keys.signing.publicKey, data, forged)).toBe(false);
    const sig = signBytes(keys.signing.privateKey, data);
    expect(verifyBytes(keys.signing.publicKey, Buffer.from('spirt messagf'), sig)).toBe(false);
  });

  it('returns false, never throws, for malformed signatures', () => {
    const sig = signBytes(keys.signing.privateKey, data);
    const flipped = Buffer.from(sig, 'base64');
    flipped[0] ^= 0x80;
    for (const bad of [
      '',
      'not base64!',
      sig.slice(0, 20),
      sig + 'AA',
      flipped.toString('base64'),
      `${sig.slice(0, 4)}\n${sig.slice(4)}`,
    ]) {
      expect(verifyBytes(keys.signing.publicKey, data, bad)).toBe(false);
    }
    expect(verifyBytes(keys.signing.publicKey, data, 42 as unknown as string)).toBe(false);
  });

  it('an encryption key cannot sign or verify', () => {
    expect(() => signBytes(keys.encryption.privateKey, data)).toThrow(/cannot sign/);
    expect(() => verifyBytes(keys.encryption.publicKey, data, 'AAAA')).toThrow(/cannot verify/);
  });
});

describe('canonicalJson', () => {
  it('sorts keys at every depth and survives a JSON round trip', () => {
    const value = { b: 1, a: { d: [3, { z: true, y: null }], c: 'x' }, u: undefined };
    expect(canonicalJson(value)).toBe('{"a":{"c":"x","d":[3,{"y":null,"z":true}]},"b":1}');
    expect(canonicalJson(JSON.parse(JSON.stringify(value)))).toBe(canonicalJson(value));
    expect(canonicalHash({ x: 1, y: 2 })).toBe(canonicalHash({ y: 2, x: 1 }));
    expect(canonicalHash({ x: 1 })).not.toBe(canonicalHash({ x: '1' }));
  });

  it('refuses values JSON would change', () => {
    expect(() => canonicalJson({ x: NaN })).toThrow(/x is NaN/);
    expect(() => canonicalJson([1n])).toThrow(/bigint/);
    expect(() => canonicalJson(undefined)).toThrow(TypeError);
  });
});
