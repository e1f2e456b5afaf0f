// moto in server mode: a local endpoint that speaks the AWS KMS API, for the AwsKms adapter's tests.
// scripts/setup.js installs it into a cached virtualenv and records its path in <cache>/toolchain.json
// (`moto`); SPIRT_MOTO_SERVER overrides that. Nothing is downloaded here.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stopChild } from '../../lib/stack/child';
import { cacheDir } from '../../lib/stack/paths';
import { freePort } from '../../lib/stack/ports';

export interface MotoServer {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  port: number;
  stop(): Promise<void>;
}

/** Fake credentials and region for clients of moto (it accepts any). */
export const motoClientConfig = {
  region: 'us-east-1',
  credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
};

/** The moto_server setup installed. @throws Error telling how to install it */
export function motoServerPath(): string {
  let recorded: string | null = null;
  const file = join(cacheDir(), 'toolchain.json');
  if (existsSync(file)) recorded = (JSON.parse(readFileSync(file, 'utf8')) as { moto?: string | null }).moto ?? null;
  const path = process.env.SPIRT_MOTO_SERVER ?? recorded;
  if (!path || !existsSync(path)) {
    throw new Error(
      'moto_server is not installed: run `node scripts/setup.js` (it installs moto[server] from PyPI into <cache>/moto-venv; needs python3 with venv)',
    );
  }
  return path;
}

/** Starts moto_server on 127.0.0.1 on a free port and resolves once it answers HTTP. */
export async function startMoto(timeoutMs = 30_000): Promise<MotoServer> {
  const port = await freePort();
  const child = spawn(motoServerPath(), ['-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
    // Own process group, like the stack's servers: a Ctrl-C in the terminal reaches jest, which stops it.
    detached: true,
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`moto_server exited before answering: ${stderr.trim().split('\n').slice(-3).join(' / ')}`);
      }
      try {
        await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(1000) });
        break;
      } catch {
        if (Date.now() > deadline) throw new Error(`moto_server on port ${port} did not answer within ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  } catch (err) {
    await stopChild(child, 1000);
    throw err;
  }
  return { endpoint, port, stop: () => stopChild(child, 2000) };
}
