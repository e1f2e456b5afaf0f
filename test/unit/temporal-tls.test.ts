import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { temporalSecurityFromEnv } from '../../lib/train/temporal-tls';

describe('Temporal TLS / API key from the environment', () => {
  const dir = mkdtempSync(join(tmpdir(), 'spirt-tls-'));
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it('is off by default and on with any setting', () => {
    expect(temporalSecurityFromEnv({})).toEqual({});
    expect(temporalSecurityFromEnv({ SPIRT_TEMPORAL_TLS: '1' })).toEqual({ tls: {} });
    const ca = file('ca.pem', 'CA');
    expect(temporalSecurityFromEnv({ SPIRT_TEMPORAL_TLS_CA: ca }).tls?.serverRootCACertificate?.toString()).toBe('CA');
  });

  it('reads mTLS pairs and API keys from files, and says which variable is wrong', () => {
    const crt = file('c.crt', 'CRT');
    const key = file('c.key', 'KEY');
    const got = temporalSecurityFromEnv({ SPIRT_TEMPORAL_TLS_CERT: crt, SPIRT_TEMPORAL_TLS_KEY: key });
    expect(got.tls?.clientCertPair?.crt.toString()).toBe('CRT');
    expect(temporalSecurityFromEnv({ SPIRT_TEMPORAL_API_KEY_FILE: file('k', 'secret-key\n') })).toEqual({
      tls: {},
      apiKey: 'secret-key',
    });
    expect(() => temporalSecurityFromEnv({ SPIRT_TEMPORAL_TLS_CERT: crt })).toThrow(/go together/);
    expect(() => temporalSecurityFromEnv({ SPIRT_TEMPORAL_TLS_CA: join(dir, 'missing') })).toThrow(
      /SPIRT_TEMPORAL_TLS_CA: cannot read .*ENOENT/,
    );
  });
});
