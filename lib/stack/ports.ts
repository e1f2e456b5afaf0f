import { createServer } from 'node:net';
import { StackError } from '../errors/stack-error';

/** Resolves true when nothing listens on 127.0.0.1:port. */
export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** @throws StackError naming the first port in use and what wanted it. */
export async function assertPortsFree(ports: { port: number; what: string; host?: string }[]): Promise<void> {
  for (const { port, what, host } of ports) {
    if (!(await isPortFree(port, host))) {
      throw new StackError(
        `port ${host && host !== '127.0.0.1' ? `${host}:` : ''}${port} (${what}) is already in use; stop what uses it or pick other ports`,
      );
    }
  }
}

/** An OS-assigned free port on `host` (for tests). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ port: 0, host }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * A base port with `count` consecutive free ports on `host` (a peer's Redis listens on base + rank): one free
 * port alone can have a neighbour in use by another process's socket. @throws StackError after 50 tries
 */
export async function freePortRange(count: number, host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = await freePort(host);
    if (base + count > 65535) continue;
    const free = await Promise.all(Array.from({ length: count }, (_, i) => isPortFree(base + i, host)));
    if (free.every(Boolean)) return base;
  }
  throw new StackError(`no ${count} consecutive free ports found on ${host}`);
}
