import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  encodeEnrolment,
  issueEnrolment,
  parseEnrolment,
  verifyEnrolment,
  type EnrolmentFields,
  type VerifyEnrolmentOptions,
} from '../../lib/crypto/enrolment';
import { parseExpiry } from '../../lib/crypto/expiry';
import { generateAdminKeys, generatePeerKeys, keyFingerprint } from '../../lib/crypto/keys';
import { checkPublicKeysFile, publicKeysFile } from '../../lib/crypto/public-keys';
import { appendRevocation, readRevocations, revocationCheck, signRevocation } from '../../lib/crypto/revocation';
import { ConfigError } from '../../lib/errors/config-error';
import { reasonOf } from '../helpers/security-error';

const admin = generateAdminKeys();
const otherAdmin = generateAdminKeys();
const peer = generatePeerKeys('modern');
const issuedAt = new Date('2026-03-01T12:00:00.000Z');
const fields: EnrolmentFields = {
  network: 'net1',
  peer: 'p4',
  suite: 'modern',
  signingKey: peer.signing.publicKey,
  encryptionKey: peer.encryption.publicKey,
  issuedAt,
  expiresAt: new Date('2026-03-02T12:00:00.000Z'),
};
const at = new Date('2026-03-01T13:00:00.000Z');

function options(overrides: Partial<VerifyEnrolmentOptions> = {}): VerifyEnrolmentOptions {
  return { adminPublicKey: admin.publicKey, network: 'net1', now: at, ...overrides };
}

describe('enrolment tokens', () => {
  it('issue -> one pasteable string -> parse -> verify', () => {
    const text = issueEnrolment(admin.privateKey, fields);
    expect(text).toMatch(/^[A-Za-z0-9_-]+$/);
    const token = verifyEnrolment(text, options());
    expect(token).toMatchObject({
      v: 1,
      network: 'net1',
      peer: 'p4',
      suite: 'modern',
      admin: keyFingerprint(admin.publicKey),
    });
    expect(token.issuedAt).toBe('2026-03-01T12:00:00.000Z');
    expect(verifyEnrolment(parseEnrolment(`  ${text}\n`), options({ now: at.getTime() })).peer).toBe('p4');
  });

  it('works for an rsa suite peer', () => {
    const rsa = generatePeerKeys('rsa');
    const text = issueEnrolment(admin.privateKey, {
      ...fields,
      suite: 'rsa',
      signingKey: rsa.signing.publicKey,
      encryptionKey: rsa.encryption.publicKey,
    });
    expect(verifyEnrolment(text, options()).suite).toBe('rsa');
  });

  it('rejects a token signed by another administrator key', () => {
    const text = issueEnrolment(otherAdmin.privateKey, fields);
    expect(reasonOf(() => verifyEnrolment(text, options()))).toBe('other-admin');
    expect(() => verifyEnrolment(text, options())).toThrow(
      /signed by administrator key [0-9a-f]{32}, but this network trusts/,
    );
  });

  it('rejects a forged token (other key, our fingerprint) and an altered one', () => {
    const forged = parseEnrolment(issueEnrolment(otherAdmin.privateKey, fields));
    forged.admin = keyFingerprint(admin.publicKey);
    expect(reasonOf(() => verifyEnrolment(encodeEnrolment(forged), options()))).toBe('bad-signature');
    const genuine = parseEnrolment(issueEnrolment(admin.privateKey, fields));
    const attacker = generatePeerKeys('modern');
    expect(reasonOf(() => verifyEnrolment({ ...genuine, signingKey: attacker.signing.publicKey }, options()))).toBe(
      'bad-signature',
    );
    expect(reasonOf(() => verifyEnrolment({ ...genuine, expiresAt: '2027-01-01T00:00:00.000Z' }, options()))).toBe(
      'bad-signature',
    );
    expect(reasonOf(() => verifyEnrolment({ ...genuine, peer: 'p1' }, options()))).toBe('bad-signature');
  });

  it('rejects an expired token and one not valid yet', () => {
    const text = issueEnrolment(admin.privateKey, fields);
    expect(reasonOf(() => verifyEnrolment(text, options({ now: fields.expiresAt })))).toBe('expired');
    expect(() => verifyEnrolment(text, options({ now: new Date('2026-04-01T00:00:00Z') }))).toThrow(
      /expired at 2026-03-02T12:00:00.000Z/,
    );
    expect(reasonOf(() => verifyEnrolment(text, options({ now: new Date('2026-03-01T11:58:00Z') })))).toBe(
      'not-yet-valid',
    );
    // Within the default 60 s of clock skew it is accepted.
    expect(verifyEnrolment(text, options({ now: new Date('2026-03-01T11:59:30Z') })).peer).toBe('p4');
  });

  it('rejects a revoked peer (set or predicate) and another network', () => {
    const text = issueEnrolment(admin.privateKey, fields);
    expect(reasonOf(() => verifyEnrolment(text, options({ revoked: new Set(['p4']) })))).toBe('revoked');
    expect(reasonOf(() => verifyEnrolment(text, options({ revoked: (p) => p === 'p4' })))).toBe('revoked');
    expect(verifyEnrolment(text, options({ revoked: new Set(['p2']) })).peer).toBe('p4');
    expect(reasonOf(() => verifyEnrolment(text, options({ network: 'net2' })))).toBe('wrong-network');
  });

  it('rejects malformed tokens with a clear message', () => {
    const text = issueEnrolment(admin.privateKey, fields);
    expect(reasonOf(() => parseEnrolment(text.slice(0, 40)))).toBe('malformed');
    expect(() => parseEnrolment('not a token!')).toThrow(/not a base64url string/);
    expect(() => parseEnrolment(Buffer.from('{"v":1}').toString('base64url'))).toThrow(/field network is missing/);
    const token = parseEnrolment(text);
    expect(reasonOf(() => verifyEnrolment({ ...token, signingKey: peer.encryption.publicKey }, options()))).toBe(
      'malformed',
    );
    expect(reasonOf(() => verifyEnrolment({ ...token, expiresAt: 'tomorrow' }, options()))).toBe('malformed');
    expect(() => issueEnrolment(admin.privateKey, { ...fields, peer: 'p 4' })).toThrow(/peer id "p 4" is not valid/);
    expect(() => issueEnrolment(admin.privateKey, { ...fields, expiresAt: issuedAt })).toThrow(/expires before/);
  });
});

describe('revocation list', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'spirt-revoke-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses tokens issued before the revocation, accepts a later re-enrolment', () => {
    const path = join(dir, 'revoked.jsonl');
    expect(readRevocations(path, admin.publicKey)).toEqual([]);
    appendRevocation(path, signRevocation(admin.privateKey, 'p4', new Date('2026-03-01T12:30:00Z')));
    appendRevocation(path, signRevocation(admin.privateKey, 'p9', new Date('2026-03-01T12:30:00Z')));
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const revoked = revocationCheck(readRevocations(path, admin.publicKey));
    expect(reasonOf(() => verifyEnrolment(issueEnrolment(admin.privateKey, fields), options({ revoked })))).toBe(
      'revoked',
    );
    const later = issueEnrolment(admin.privateKey, { ...fields, issuedAt: new Date('2026-03-01T12:45:00Z') });
    expect(verifyEnrolment(later, options({ revoked })).peer).toBe('p4');
  });

  it('refuses a list with a line not signed by the administrator', () => {
    const path = join(dir, 'revoked.jsonl');
    appendRevocation(path, signRevocation(admin.privateKey, 'p4'));
    appendRevocation(path, signRevocation(otherAdmin.privateKey, 'p1'));
    expect(() => readRevocations(path, admin.publicKey)).toThrow(/line 2: signed by administrator key/);
    const edited = { ...signRevocation(admin.privateKey, 'p2'), peer: 'p1' };
    writeFileSync(path, JSON.stringify(edited) + '\n');
    expect(reasonOf(() => readRevocations(path, admin.publicKey))).toBe('bad-signature');
  });
});

describe('parseExpiry', () => {
  const now = new Date('2026-03-01T00:00:00Z');
  it('takes 30m, 24h, 7d and ISO date-times with a zone', () => {
    expect(parseExpiry('30m', now).toISOString()).toBe('2026-03-01T00:30:00.000Z');
    expect(parseExpiry('24h', now).toISOString()).toBe('2026-03-02T00:00:00.000Z');
    expect(parseExpiry('7d', now).toISOString()).toBe('2026-03-08T00:00:00.000Z');
    expect(parseExpiry('2026-04-01T10:00:00+02:00', now).toISOString()).toBe('2026-04-01T08:00:00.000Z');
  });

  it('refuses other text and times not in the future', () => {
    for (const bad of ['1w', '24', 'tomorrow', '2026-04-01', '-1h'])
      expect(() => parseExpiry(bad, now)).toThrow(ConfigError);
    expect(() => parseExpiry('0m', now)).toThrow(/not in the future/);
    expect(() => parseExpiry('2025-01-01T00:00:00Z', now)).toThrow(/not in the future/);
  });
});

describe('pubkeys.json', () => {
  it('carries public keys only and a proof of possession that detects edits', () => {
    const file = publicKeysFile('p4', peer);
    expect(JSON.stringify(file)).not.toContain('PRIVATE KEY');
    expect(checkPublicKeysFile(JSON.parse(JSON.stringify(file))).fingerprint).toBe(
      keyFingerprint(peer.signing.publicKey),
    );
    const attacker = generatePeerKeys('modern');
    expect(reasonOf(() => checkPublicKeysFile({ ...file, encryptionKey: attacker.encryption.publicKey }))).toBe(
      'bad-signature',
    );
    expect(reasonOf(() => checkPublicKeysFile({ ...file, peer: 'p1' }))).toBe('bad-signature');
    expect(reasonOf(() => checkPublicKeysFile({ ...file, v: 2 }))).toBe('malformed');
  });
});
