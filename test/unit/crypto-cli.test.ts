import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyEnrolment } from '../../lib/crypto/enrolment';
import { openPrivateKeys } from '../../lib/crypto/key-store';
import { keyFingerprint } from '../../lib/crypto/keys';
import { readRevocations, revocationCheck } from '../../lib/crypto/revocation';
import { LocalKms } from '../../lib/kms/local';
import { loadAdminKey } from '../../lib/peer/admin';
import { main } from '../../workers/cli/index';

// `spirt keys generate` and `spirt admin init|enrol|revoke`, through the CLI's main() (no build needed).
let root: string;
let out: string[];

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'spirt-cli-'));
  out = [];
  jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out.push(chunk.toString());
    return true;
  });
  jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
});
afterEach(() => {
  jest.restoreAllMocks();
  rmSync(root, { recursive: true, force: true });
});

async function spirt(...args: string[]): Promise<string> {
  out = [];
  expect(await main(args)).toBe(0);
  return out.join('');
}

const mode = (path: string) => statSync(path).mode & 0o777;

describe('spirt keys generate', () => {
  it('writes pubkeys.json and KMS-sealed private keys, 0600 files in a 0700 folder', async () => {
    const dir = join(root, 'p5');
    const printed = await spirt('keys', 'generate', '--peer', 'p5', '--out', dir);
    expect(printed).toMatch(/generated modern keys for p5/);
    expect(readdirSync(dir).sort()).toEqual(['keys.sealed.json', 'master.key', 'pubkeys.json']);
    expect(mode(dir)).toBe(0o700);
    for (const file of readdirSync(dir)) expect(mode(join(dir, file))).toBe(0o600);
    const pubkeys = JSON.parse(readFileSync(join(dir, 'pubkeys.json'), 'utf8'));
    expect(pubkeys).toMatchObject({ v: 1, peer: 'p5', suite: 'modern' });
    expect(printed).toContain(keyFingerprint(pubkeys.signingKey));
    for (const file of ['pubkeys.json', 'keys.sealed.json']) {
      expect(readFileSync(join(dir, file), 'utf8')).not.toContain('PRIVATE KEY');
    }
    const sealed = JSON.parse(readFileSync(join(dir, 'keys.sealed.json'), 'utf8'));
    const keys = await openPrivateKeys(LocalKms.open(join(dir, 'master.key')), sealed, {
      peer: 'p5',
      purpose: 'peer-keys',
    });
    expect(keys.signing.publicKey).toBe(pubkeys.signingKey);
  });

  it('refuses to overwrite without --force, and a bad suite or peer id', async () => {
    const dir = join(root, 'p5');
    await spirt('keys', 'generate', '--peer', 'p5', '--out', dir);
    const before = readFileSync(join(dir, 'pubkeys.json'), 'utf8');
    await expect(main(['keys', 'generate', '--peer', 'p5', '--out', dir])).rejects.toThrow(
      /already holds keys; pass --force/,
    );
    await spirt('keys', 'generate', '--peer', 'p5', '--out', dir, '--force');
    expect(readFileSync(join(dir, 'pubkeys.json'), 'utf8')).not.toBe(before);
    await expect(
      main(['keys', 'generate', '--peer', 'p6', '--out', join(root, 'x'), '--suite', 'dsa']),
    ).rejects.toThrow(/--suite "dsa": use modern or rsa/);
    await expect(main(['keys', 'generate', '--peer', 'p 6', '--out', join(root, 'y')])).rejects.toThrow(/not valid/);
  });
});

describe('spirt admin', () => {
  it('init, enrol, revoke: the token verifies until the peer is revoked', async () => {
    const admin = join(root, 'admin');
    const initLines = await spirt('admin', 'init', '--dir', admin);
    expect(mode(admin)).toBe(0o700);
    expect(mode(join(admin, 'master.key'))).toBe(0o600);
    for (const file of readdirSync(admin)) expect(readFileSync(join(admin, file), 'utf8')).not.toContain('PRIVATE KEY');
    const adminKey = await loadAdminKey(admin);
    expect(initLines).toContain(`fingerprint: ${keyFingerprint(adminKey.publicKey)}`);

    await spirt('keys', 'generate', '--peer', 'p5', '--out', join(root, 'p5'));
    const pubkeys = join(root, 'p5', 'pubkeys.json');
    const token = (
      await spirt(
        'admin',
        'enrol',
        '--peer',
        'p5',
        '--pubkeys',
        pubkeys,
        '--expires',
        '24h',
        '--network',
        'net1',
        '--dir',
        admin,
      )
    ).trim();
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    const verified = verifyEnrolment(token, { adminPublicKey: adminKey.publicKey, network: 'net1' });
    expect(verified.peer).toBe('p5');
    expect(Date.parse(verified.expiresAt) - Date.parse(verified.issuedAt)).toBe(24 * 3_600_000);

    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await spirt('admin', 'revoke', '--peer', 'p5', '--dir', admin)).toMatch(/revoked p5 at /);
    const revoked = revocationCheck(readRevocations(join(admin, 'revoked.jsonl'), adminKey.publicKey));
    expect(() => verifyEnrolment(token, { adminPublicKey: adminKey.publicKey, network: 'net1', revoked })).toThrow(
      expect.objectContaining({ reason: 'revoked' }),
    );
  });

  it('a token from another administrator folder is refused as other-admin', async () => {
    await spirt('admin', 'init', '--dir', join(root, 'a'));
    await spirt('admin', 'init', '--dir', join(root, 'b'));
    await spirt('keys', 'generate', '--peer', 'p5', '--out', join(root, 'p5'));
    const args = ['--peer', 'p5', '--pubkeys', join(root, 'p5', 'pubkeys.json'), '--expires', '1h', '--network', 'n'];
    const token = (await spirt('admin', 'enrol', ...args, '--dir', join(root, 'b'))).trim();
    const trusted = await loadAdminKey(join(root, 'a'));
    expect(() => verifyEnrolment(token, { adminPublicKey: trusted.publicKey, network: 'n' })).toThrow(
      expect.objectContaining({ reason: 'other-admin' }),
    );
  });

  it('init refuses to replace a key without --force; --force makes a new key', async () => {
    const admin = join(root, 'admin');
    await spirt('admin', 'init', '--dir', admin);
    const first = await loadAdminKey(admin);
    await expect(main(['admin', 'init', '--dir', admin])).rejects.toThrow(
      /already holds an administrator key; pass --force/,
    );
    await spirt('admin', 'init', '--dir', admin, '--force');
    expect((await loadAdminKey(admin)).publicKey).not.toBe(first.publicKey);
  });

  it('defaults to <state dir>/admin, and enrol checks its inputs', async () => {
    const stateDir = join(root, 'state');
    await spirt('admin', 'init', '--state-dir', stateDir);
    expect(readdirSync(join(stateDir, 'admin'))).toContain('master.key');
    await spirt('keys', 'generate', '--peer', 'p5', '--out', join(root, 'p5'));
    const pubkeys = join(root, 'p5', 'pubkeys.json');
    const enrol = (...extra: string[]) =>
      main(['admin', 'enrol', '--pubkeys', pubkeys, '--state-dir', stateDir, ...extra]);
    await expect(enrol('--peer', 'p6', '--expires', '1h', '--network', 'n')).rejects.toThrow(/is for peer p5, not p6/);
    await expect(enrol('--peer', 'p5', '--expires', 'soon', '--network', 'n')).rejects.toThrow(/expiry "soon"/);
    await expect(enrol('--peer', 'p5', '--expires', '1h')).rejects.toThrow(/--network is required/);
    await expect(
      main([
        'admin',
        'enrol',
        '--peer',
        'p5',
        '--pubkeys',
        pubkeys,
        '--expires',
        '1h',
        '--network',
        'n',
        '--dir',
        join(root, 'none'),
      ]),
    ).rejects.toThrow(/no administrator key in .*spirt admin init/);
  });

  it.each([
    ['admin', 'init'],
    ['admin', 'enrol'],
    ['admin', 'revoke'],
    ['keys', 'generate'],
  ])('%s %s --help', async (...command) => {
    const help = await spirt(...command, '--help');
    expect(help).toMatch(new RegExp(`Usage: spirt ${command.join(' ')}`));
    expect(help.split('\n').length).toBeGreaterThan(4);
  });

  it('a missing required option is a one-line usage error', async () => {
    expect(await main(['admin', 'enrol', '--peer', 'p5'])).toBe(1);
  });
});
