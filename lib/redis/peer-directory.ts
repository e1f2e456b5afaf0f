import Redis from 'ioredis';
import { StackError } from '../errors/stack-error';
import { withTimeout } from '../errors/timeout';
import { connectRedis, describeRedisError, type RedisEndpoint } from './connect';
import { BulkLink } from './bulk-link';

/** Finds the endpoint and credential of a peer not known yet (the trusted-peer table); null when unknown. */
export type EndpointResolver = (peerId: string) => Promise<RedisEndpoint | null>;

/**
 * Redis endpoints of the peers this worker may talk to, with their credentials (which stay in the
 * worker process). Peers not given at construction are looked up once through the resolver (the
 * handshake's trusted-peer table). Data connections are opened once and reused; probes use their own
 * short-timeout connections so a hung peer never delays a data command or another probe.
 */
export class PeerDirectory {
  private readonly clients = new Map<string, Promise<Redis>>();
  private readonly probes = new Map<string, Redis>();
  private readonly endpoints = new Map<string, RedisEndpoint>();
  private readonly links = new Map<string, Promise<BulkLink>>();

  constructor(
    endpoints: Record<string, RedisEndpoint>,
    private readonly resolver: EndpointResolver = async () => null,
  ) {
    for (const [peer, endpoint] of Object.entries(endpoints)) this.endpoints.set(peer, endpoint);
  }

  /** Forgets a peer's endpoint and closes its connections (a new credential, or a removed peer). */
  forget(peerId: string): void {
    this.endpoints.delete(peerId);
    this.links.get(peerId)?.then(
      (l) => l.close(),
      () => undefined,
    );
    this.links.delete(peerId);
    const client = this.clients.get(peerId);
    this.clients.delete(peerId);
    client?.then((c) => c.disconnect()).catch(() => undefined);
    this.probes.get(peerId)?.disconnect();
    this.probes.delete(peerId);
  }

  /** @throws StackError for a peer this worker does not know. */
  async endpoint(peerId: string): Promise<RedisEndpoint> {
    const known = this.endpoints.get(peerId);
    if (known) return known;
    const resolved = await this.resolver(peerId);
    if (!resolved) throw new StackError(`unknown peer "${peerId}" (not in this peer's trusted-peer table)`);
    this.endpoints.set(peerId, resolved);
    return resolved;
  }

  /** @throws StackError for a peer this worker does not know, or whose Redis is unreachable. */
  connection(peerId: string): Promise<Redis> {
    return reuse(
      this.clients,
      peerId,
      () => this.endpoint(peerId).then((endpoint) => connectRedis(endpoint, { name: 'spirt-worker' })),
      (client, ended) => client.once('end', ended),
    );
  }

  /**
   * The connection tensors are copied over (lib/redis/bulk-link.ts), opened on first use and again after it
   * failed. @throws when the peer is unknown or its Redis cannot be reached or logged in to
   */
  bulkLink(peerId: string): Promise<BulkLink> {
    return reuse(
      this.links,
      peerId,
      () => this.endpoint(peerId).then((endpoint) => BulkLink.open(endpoint)),
      (link, ended) => link.onClose(ended),
    );
  }

  /**
   * One liveness probe: PING and read `key` within `timeoutMs`. Resolves with the key's value (null when
   * absent); rejects with a short reason (`connection refused`, `timed out`, ...). Never retries: the
   * failure detector decides what repeated failures mean.
   */
  async probe(peerId: string, key: string, timeoutMs: number): Promise<string | null> {
    const endpoint = await this.endpoint(peerId);
    let client = this.probes.get(peerId);
    if (!client || client.status === 'end' || client.status === 'close') {
      client?.disconnect();
      client = new Redis({
        host: endpoint.host,
        port: endpoint.port,
        password: endpoint.password,
        username: endpoint.username,
        ...(endpoint.tls ? { tls: { ca: endpoint.tls.ca } } : {}),
        connectionName: 'spirt-probe',
        enableReadyCheck: !endpoint.username,
        connectTimeout: timeoutMs,
        commandTimeout: timeoutMs,
        maxRetriesPerRequest: 0,
        enableOfflineQueue: true,
        retryStrategy: () => null,
        lazyConnect: true,
      });
      client.on('error', () => undefined);
      this.probes.set(peerId, client);
    }
    const c = client;
    try {
      if (c.status === 'wait') await withTimeout(c.connect(), timeoutMs, 'timed out');
      const [[pingErr], [getErr, value]] = (await withTimeout(
        c.pipeline().ping().get(key).exec(),
        timeoutMs,
        'timed out',
      )) as [[Error | null, unknown], [Error | null, unknown]];
      if (pingErr || getErr) throw pingErr ?? getErr;
      return (value as string | null) ?? null;
    } catch (err) {
      c.disconnect();
      this.probes.delete(peerId);
      throw new Error(describeRedisError(err));
    }
  }

  async close(): Promise<void> {
    const all = [...this.clients.values()];
    this.clients.clear();
    for (const l of this.links.values())
      l.then(
        (link) => link.close(),
        () => undefined,
      );
    this.links.clear();
    for (const p of this.probes.values()) p.disconnect();
    this.probes.clear();
    await Promise.all(all.map((c) => c.then((r) => r.disconnect()).catch(() => undefined)));
  }
}

/**
 * The open connection to `peerId` in `cache`, or a new one from `open`; it leaves the cache when it fails to open
 * or once `watch` reports it ended (a later call opens another).
 */
function reuse<T>(
  cache: Map<string, Promise<T>>,
  peerId: string,
  open: () => Promise<T>,
  watch: (connection: T, ended: () => void) => void,
): Promise<T> {
  const known = cache.get(peerId);
  if (known) return known;
  const opened = open();
  cache.set(peerId, opened);
  const ended = () => {
    if (cache.get(peerId) === opened) cache.delete(peerId);
  };
  opened.then((connection) => watch(connection, ended), ended);
  return opened;
}
