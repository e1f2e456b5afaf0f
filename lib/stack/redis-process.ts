import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Redis from 'ioredis';
import { StackError } from '../errors/stack-error';
import { passwordHashRule } from '../redis/acl';
import { exitOf, stopChild } from './child';
import { assertPortsFree } from './ports';

export interface RedisProcessOptions {
  /** redis-server executable. */
  executable: string;
  /** Address to listen on. @default '127.0.0.1' */
  bind?: string;
  port: number;
  /** Password of the `default` user: the peer's own worker (its owner), with every right. */
  password: string;
  /**
   * Further ACL users, as aclfile lines (`user inbox on #<sha256> ...`, no plaintext password). When given,
   * the users live in `<dir>/users.acl`, written afresh here; users added at run time (the handshake's
   * `peer:<id>` users) are saved there with ACL SAVE and survive a restart. When null, the file is kept
   * as it is (a restart). When absent, the server has only the `default` user.
   */
  users?: string[] | null;
  /** Data dir (append-only file, config, log). Created when missing. */
  dir: string;
  /** Module .so to load (none when null). */
  modulePath?: string | null;
  /** The module's load arguments (redisai-module/src/module.c), e.g. `FORK_CHILD_IDLE`. */
  moduleArgs?: string[];
  /** Serve TLS only (the plain port is closed): server certificate, key and the CA clients trust. */
  tls?: { certFile: string; keyFile: string; caFile: string };
  /** Append-only file (a restart reloads the peer's state). @default true */
  appendOnly?: boolean;
  /** Extra config lines. */
  extraConfig?: string[];
  /** @default 10000 */
  startTimeoutMs?: number;
}

export interface RedisProcess {
  port: number;
  host: string;
  child: ChildProcess;
  moduleLoaded: boolean;
  stop(): Promise<void>;
}

/**
 * Starts a redis-server with its own port, password, data dir and append-only file.
 * The password goes into a 0600 config file, never onto the command line (where `ps` shows it).
 * @throws StackError when the port is taken, the binary or module is missing, or the server does not come up.
 */
export async function startRedisServer(opts: RedisProcessOptions): Promise<RedisProcess> {
  if (!existsSync(opts.executable)) {
    throw new StackError(`redis-server not found at ${opts.executable}; install the Debian package redis-server`);
  }
  if (opts.modulePath && !existsSync(opts.modulePath)) {
    throw new StackError(`Redis module not found at ${opts.modulePath}; run npm run setup to build redisai-module`);
  }
  const host = opts.bind ?? '127.0.0.1';
  await assertPortsFree([{ port: opts.port, what: 'redis-server', host }]);
  mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
  const configPath = join(opts.dir, 'redis.conf');
  const lines = [
    ...(opts.tls
      ? [
          'port 0',
          `tls-port ${opts.port}`,
          `tls-cert-file ${opts.tls.certFile}`,
          `tls-key-file ${opts.tls.keyFile}`,
          `tls-ca-cert-file ${opts.tls.caFile}`,
          // Clients log in with their ACL user and password; a client certificate is not required.
          'tls-auth-clients no',
        ]
      : [`port ${opts.port}`]),
    `bind ${host}`,
    'protected-mode yes',
    `dir ${opts.dir}`,
    ...(opts.appendOnly === false ? ['appendonly no'] : ['appendonly yes', 'appendfsync everysec']),
    // The append-only file is rewritten (a forked child writes the data set as an RDB preamble) every time it
    // doubles, every few steps with large gradients; LZF-compressing float tensors there costs much CPU and
    // saves little space (docs/benchmarks.md: mobilenet_v3_small epochs about a quarter shorter without it).
    'rdbcompression no',
    'save ""',
    `logfile ${join(opts.dir, 'redis.log')}`,
    'daemonize no',
    ...(opts.users === undefined ? [`requirepass ${opts.password}`] : [`aclfile ${join(opts.dir, 'users.acl')}`]),
    ...(opts.modulePath ? [['loadmodule', opts.modulePath, ...(opts.moduleArgs ?? [])].join(' ')] : []),
    ...(opts.extraConfig ?? []),
  ];
  if (opts.users) {
    const defaultUser = `user default on ${passwordHashRule(opts.password)} ~* &* +@all`;
    writeFileSync(join(opts.dir, 'users.acl'), [defaultUser, ...opts.users].join('\n') + '\n', { mode: 0o600 });
  }
  writeFileSync(configPath, lines.join('\n') + '\n', { mode: 0o600 });
  // Own process group: a terminal Ctrl-C reaches only spirt, which then stops children in order.
  const child = spawn(opts.executable, [configPath], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const spawnError = new Promise<never>((_, reject) =>
    child.once('error', (err) => reject(new StackError(`cannot start redis-server: ${err.message}`))),
  );
  spawnError.catch(() => undefined);

  const deadline = Date.now() + (opts.startTimeoutMs ?? 10_000);
  const client = new Redis({
    port: opts.port,
    host,
    password: opts.password,
    lazyConnect: true,
    ...(opts.tls ? { tls: { ca: readFileSync(opts.tls.caFile, 'utf8') } } : {}),
  });
  client.on('error', () => undefined);
  try {
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        const how = await exitOf(child);
        throw new StackError(`redis-server on port ${opts.port} exited (${how}): ${lastLogLine(opts.dir, stderr)}`);
      }
      try {
        if (client.status !== 'ready') await Promise.race([client.connect(), spawnError]);
        await client.ping();
        break;
      } catch (err) {
        if (err instanceof StackError) throw err;
        client.disconnect();
        if (Date.now() > deadline) {
          throw new StackError(`redis-server on port ${opts.port} did not answer within the start timeout`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    const modules = (await client.call('MODULE', 'LIST')) as unknown[];
    return {
      port: opts.port,
      host,
      child,
      moduleLoaded: modules.length > 0,
      stop: () => stopChild(child),
    };
  } catch (err) {
    await stopChild(child, 1000);
    throw err;
  } finally {
    client.disconnect();
  }
}

function lastLogLine(dir: string, stderr: string): string {
  const logFile = join(dir, 'redis.log');
  const text = existsSync(logFile) ? readFileSync(logFile, 'utf8') : stderr;
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !/requirepass/i.test(l));
  return lines.slice(-2).join(' / ') || 'no log output';
}
