// TLS and API-key settings of a Temporal connection, from the environment of the process that connects
// (each peer's worker, or the CLI): what Temporal Cloud (mTLS or API key) and a TLS-enabled self-hosted
// cluster need. Paths, never the secrets themselves, are read from the environment; nothing is logged.
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors/config-error';

export interface TemporalSecurity {
  tls?: {
    serverNameOverride?: string;
    serverRootCACertificate?: Buffer;
    clientCertPair?: { crt: Buffer; key: Buffer };
  };
  apiKey?: string;
}

/**
 * SPIRT_TEMPORAL_TLS=1 turns TLS on (implied by any of the next ones); SPIRT_TEMPORAL_TLS_CA (a CA file),
 * SPIRT_TEMPORAL_TLS_CERT and SPIRT_TEMPORAL_TLS_KEY (client certificate and key files, for mTLS),
 * SPIRT_TEMPORAL_TLS_SERVER_NAME; SPIRT_TEMPORAL_API_KEY_FILE (a file holding an API key; TLS on).
 * @throws ConfigError naming the variable whose file cannot be read, or a certificate without its key
 */
export function temporalSecurityFromEnv(env: NodeJS.ProcessEnv = process.env): TemporalSecurity {
  const read = (name: string): Buffer | undefined => {
    const path = env[name];
    if (!path) return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      throw new ConfigError(`${name}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  };
  const ca = read('SPIRT_TEMPORAL_TLS_CA');
  const crt = read('SPIRT_TEMPORAL_TLS_CERT');
  const key = read('SPIRT_TEMPORAL_TLS_KEY');
  if (Boolean(crt) !== Boolean(key))
    throw new ConfigError('SPIRT_TEMPORAL_TLS_CERT and SPIRT_TEMPORAL_TLS_KEY go together (mTLS needs both)');
  const apiKey = read('SPIRT_TEMPORAL_API_KEY_FILE')?.toString().trim();
  const serverName = env.SPIRT_TEMPORAL_TLS_SERVER_NAME;
  const on = env.SPIRT_TEMPORAL_TLS === '1' || Boolean(ca || crt || apiKey || serverName);
  if (!on) return {};
  return {
    tls: {
      ...(serverName ? { serverNameOverride: serverName } : {}),
      ...(ca ? { serverRootCACertificate: ca } : {}),
      ...(crt && key ? { clientCertPair: { crt, key } } : {}),
    },
    ...(apiKey ? { apiKey } : {}),
  };
}
