// A local certificate authority and one server certificate per peer, for Redis over TLS on one machine
// (`spirt up --tls`). Made with the openssl CLI (Node's crypto cannot issue X.509 certificates); keys
// are ECDSA P-256, files 0600. On separate hosts, use certificates from your own CA instead.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StackError } from '../errors/stack-error';

export interface TlsFiles {
  /** The CA certificate (PEM, public): what clients trust. */
  caFile: string;
  certFile: string;
  keyFile: string;
}

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
    if (e.code === 'ENOENT')
      throw new StackError('openssl not found: install the Debian package openssl (npm run setup does)');
    throw new StackError(`openssl ${args[0]} failed: ${e.stderr?.toString().trim().split('\n').pop() ?? e.message}`);
  }
}

/** Creates (once) the CA in `dir` and a server certificate for `name` valid for 127.0.0.1 and localhost. */
export function ensureLocalTls(dir: string, name: string, hosts: string[] = ['127.0.0.1']): TlsFiles {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const caFile = join(dir, 'ca.crt');
  const caKey = join(dir, 'ca.key');
  if (!existsSync(caFile) || !existsSync(caKey)) {
    openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', caKey], dir);
    chmodSync(caKey, 0o600);
    openssl(
      ['req', '-x509', '-new', '-key', caKey, '-sha256', '-days', '825', '-subj', '/CN=spirt local CA', '-out', caFile],
      dir,
    );
  }
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  if (!existsSync(certFile) || !existsSync(keyFile)) {
    const csr = join(dir, `${name}.csr`);
    const ext = join(dir, `${name}.ext`);
    openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', keyFile], dir);
    chmodSync(keyFile, 0o600);
    openssl(['req', '-new', '-key', keyFile, '-subj', `/CN=${name}`, '-out', csr], dir);
    const sans = [...hosts.map((h) => (/^[\d.]+$/.test(h) ? `IP:${h}` : `DNS:${h}`)), 'DNS:localhost'];
    writeFileSync(ext, `subjectAltName=${sans.join(',')}\nextendedKeyUsage=serverAuth\n`);
    openssl(
      ['x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', caKey, '-CAcreateserial', '-days', '825', '-sha256'].concat(
        ['-extfile', ext, '-out', certFile],
      ),
      dir,
    );
  }
  return { caFile, certFile, keyFile };
}

export function readCa(files: TlsFiles): string {
  return readFileSync(files.caFile, 'utf8');
}
