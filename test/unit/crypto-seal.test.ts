import { generatePeerKeys, type PeerKeys } from '../../lib/crypto/keys';
import { openSealed, sealTo, type SealedBox } from '../../lib/crypto/seal';
import { SecurityError } from '../../lib/errors/security-error';
import { reasonOf } from '../helpers/security-error';

const suites: Record<'modern' | 'rsa', PeerKeys> = { modern: generatePeerKeys('modern'), rsa: generatePeerKeys('rsa') };
const secret = Buffer.from('redis password for p2: 7f3a9c');
const aad = 'credentials:net1:p1:p2';

/** A copy of `box` with one bit of the base64 field `field` flipped at byte `at`. */
function flip(box: SealedBox, field: 'key' | 'iv' | 'ct' | 'tag', at = 0): SealedBox {
  const bytes = Buffer.from(box[field], 'base64');
  bytes[at] ^= 0x01;
  return { ...box, [field]: bytes.toString('base64') };
}

describe.each(['modern', 'rsa'] as const)('sealTo / openSealed (%s)', (suite) => {
  const keys = suites[suite];

  it('round-trips through JSON; the box holds no plaintext', () => {
    const box = sealTo(keys.encryption.publicKey, secret, aad);
    expect(box).toMatchObject({
      v: 1,
      alg: suite === 'modern' ? 'x25519-hkdf-sha256-aes256gcm' : 'rsa-oaep-sha256-aes256gcm',
    });
    const wire = JSON.stringify(box);
    expect(wire).not.toContain('7f3a9c');
    expect(openSealed(keys.encryption.privateKey, JSON.parse(wire), aad).equals(secret)).toBe(true);
  });

  it('two seals of the same secret differ (fresh ephemeral key or AES key, fresh IV)', () => {
    expect(sealTo(keys.encryption.publicKey, secret, aad).ct).not.toBe(
      sealTo(keys.encryption.publicKey, secret, aad).ct,
    );
  });

  it('a flipped byte anywhere in the box is refused', () => {
    const box = sealTo(keys.encryption.publicKey, secret, aad);
    for (const field of ['key', 'iv', 'ct', 'tag'] as const) {
      expect(() => openSealed(keys.encryption.privateKey, flip(box, field), aad)).toThrow(SecurityError);
    }
    expect(reasonOf(() => openSealed(keys.encryption.privateKey, flip(box, 'ct', 5), aad))).toBe('decrypt-failed');
    expect(() => openSealed(keys.encryption.privateKey, flip(box, 'tag', 15), aad)).toThrow(/tampered with/);
  });

  it('another aad is refused (a secret for p2 cannot be passed off as one for p3)', () => {
    const box = sealTo(keys.encryption.publicKey, secret, aad);
    expect(reasonOf(() => openSealed(keys.encryption.privateKey, box, 'credentials:net1:p1:p3'))).toBe(
      'decrypt-failed',
    );
  });

  it('another private key is refused, naming both keys', () => {
    const box = sealTo(keys.encryption.publicKey, secret, aad);
    const other = generatePeerKeys('modern');
    expect(() => openSealed(other.encryption.privateKey, box, aad)).toThrow(
      /addressed to key [0-9a-f]{32}, not to this key/,
    );
    expect(reasonOf(() => openSealed(keys.signing.privateKey, box, aad))).toBe('wrong-key');
  });
});

describe('sealed box checks', () => {
  it('refuses a signing key as recipient and malformed boxes', () => {
    expect(reasonOf(() => sealTo(suites.modern.signing.publicKey, secret, aad))).toBe('wrong-key');
    const box = sealTo(suites.modern.encryption.publicKey, secret, aad);
    const priv = suites.modern.encryption.privateKey;
    expect(reasonOf(() => openSealed(priv, { ...box, v: 2 } as unknown as SealedBox, aad))).toBe('malformed');
    expect(reasonOf(() => openSealed(priv, { ...box, alg: 'rot13' } as unknown as SealedBox, aad))).toBe('malformed');
    expect(reasonOf(() => openSealed(priv, { ...box, ct: '***' }, aad))).toBe('malformed');
    expect(reasonOf(() => openSealed(priv, null as unknown as SealedBox, aad))).toBe('malformed');
  });

  it('a box relabelled with the other suite is refused', () => {
    const box = sealTo(suites.modern.encryption.publicKey, secret, aad);
    expect(
      reasonOf(() =>
        openSealed(suites.modern.encryption.privateKey, { ...box, alg: 'rsa-oaep-sha256-aes256gcm' }, aad),
      ),
    ).toBe('wrong-key');
  });
});
