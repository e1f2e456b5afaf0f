// Which transport a message takes, and the queue settings in the network file, CLI and environment.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Redis from 'ioredis';
import { parseQueueUrls } from '../../lib/peer/network-admin';
import { readNetworkFileAt, type NetworkFile, type NetworkPeer } from '../../lib/peer/network-file';
import { messageId } from '../../lib/queue/message-id';
import { PeerTransport } from '../../lib/queue/peer-transport';
import type { SqsSend } from '../../lib/queue/sqs';
import { inboxKeys, runKeys } from '../../lib/redis/keys';
import { checkQueuesEnv } from '../../lib/stack/peer-config';

const urls = (peer: string) => ({
  sync: `http://sqs.local/1/${peer}-sync`,
  'join-requests': `http://sqs.local/1/${peer}-join`,
  credentials: `http://sqs.local/1/${peer}-cred`,
});

const peer = (id: string, queues?: boolean): NetworkPeer => ({
  id,
  rank: Number(id.slice(1)),
  redis: { host: '127.0.0.1', port: 7000 + Number(id.slice(1)) },
  taskQueue: `q-${id}`,
  inbox: { username: 'inbox', password: 'public' },
  enrolment: 'token',
  ...(queues ? { queues: urls(id) } : {}),
});

const network = (peers: NetworkPeer[], sqs = true): NetworkFile => ({
  v: 1,
  network: 'n',
  adminPublicKey: 'pem',
  temporal: { address: '127.0.0.1:7233', namespace: 'default' },
  ...(sqs ? { queues: { kind: 'sqs' as const, region: 'us-east-1' } } : {}),
  peers,
});

describe('PeerTransport', () => {
  function harness(net: NetworkFile | null, trusted: Record<string, ReturnType<typeof urls>> = {}) {
    const sent: { url: string; body: { stream: string; id: string } }[] = [];
    const appended: { peer: string; stream: string }[] = [];
    const sqs = {
      send: async (cmd: { input: { QueueUrl: string; MessageBody: string } }) => {
        sent.push({ url: cmd.input.QueueUrl, body: JSON.parse(cmd.input.MessageBody) });
        return {};
      },
      destroy: () => undefined,
    } as unknown as SqsSend;
    const transport = new PeerTransport({
      network: net,
      connection: async (p) =>
        ({
          xadd: async (stream: string) => {
            appended.push({ peer: p, stream });
            return '1-0';
          },
        }) as unknown as Redis,
      queuesOf: async (p) => trusted[p],
      ...(net?.queues ? { sqs } : {}),
    });
    return { transport, sent, appended };
  }
  const sync = () => ({ stream: runKeys('r1').syncStream, fields: ['type', 'ready'], id: messageId() });

  it("sends to a peer's SQS queue of the message's kind when it has queues, else into its Redis stream", async () => {
    const { transport, sent, appended } = harness(network([peer('p1', true), peer('p2')]));
    await transport.deliver('p1', sync());
    await transport.deliver('p2', sync());
    expect(sent.map((s) => s.url)).toEqual([urls('p1').sync]);
    expect(appended).toEqual([{ peer: 'p2', stream: runKeys('r1').syncStream }]);
  });

  it('finds the queues of a peer that joined later in its trusted record, and a route given with a handshake', async () => {
    const { transport, sent } = harness(network([peer('p1', true)]), { p5: urls('p5') });
    await transport.deliver('p5', sync());
    await transport.deliver(
      'p6',
      { stream: inboxKeys.joinRequests, fields: ['msg', '{}'], id: messageId() },
      { redis: { host: 'h', port: 1 }, inbox: { username: 'inbox', password: 'x' }, queues: urls('p6') },
    );
    expect(sent.map((s) => s.url)).toEqual([urls('p5').sync, urls('p6')['join-requests']]);
  });

  it('refuses a stream other peers may not write to, and SQS peers without SQS settings', async () => {
    const { transport } = harness(network([peer('p1', true)]));
    await expect(
      transport.deliver('p1', { stream: 'spirt:r1:params', fields: ['a', 'b'], id: messageId() }),
    ).rejects.toThrow(/not one other peers may write to/);
    const noSettings = harness(network([peer('p1', true)], false));
    await expect(noSettings.transport.deliver('p1', sync())).rejects.toThrow(/no "queues" settings/);
    // Without SQS settings no trusted record is read on the send path: straight into the Redis stream.
    const plain = harness(network([peer('p1')], false), { p5: urls('p5') });
    await plain.transport.deliver('p5', sync());
    expect(plain.sent).toEqual([]);
    expect(plain.appended).toEqual([{ peer: 'p5', stream: runKeys('r1').syncStream }]);
  });
});

describe('queue settings', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'spirt-queues-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('the network file refuses peer queues without SQS settings, and malformed URLs', () => {
    const path = join(dir, 'network.json');
    writeFileSync(path, JSON.stringify(network([peer('p1', true)], false)));
    expect(() => readNetworkFileAt(path)).toThrow(/peer p1 lists queues but the network has no "queues" settings/);
    const bad = network([{ ...peer('p1'), queues: { ...urls('p1'), sync: 'nope' } }]);
    writeFileSync(path, JSON.stringify(bad));
    expect(() => readNetworkFileAt(path)).toThrow(/peer p1: queues.sync must be a URL/);
    writeFileSync(path, JSON.stringify(network([peer('p1', true), peer('p2')])));
    expect(readNetworkFileAt(path).peers[0].queues).toEqual(urls('p1'));
  });

  it('--queues takes the three kinds and names what is wrong', () => {
    const text = `sync=${urls('p1').sync},join-requests=${urls('p1')['join-requests']},credentials=${urls('p1').credentials}`;
    expect(parseQueueUrls(text)).toEqual(urls('p1'));
    expect(() => parseQueueUrls(`sync=${urls('p1').sync}`)).toThrow(/no URL for join-requests, credentials/);
    expect(() => parseQueueUrls('inbox=http://x')).toThrow(/"inbox=http:\/\/x" is not KIND=URL/);
    expect(() => parseQueueUrls(text.replace('http://sqs.local/1/p1-sync', 'ftp://x'))).toThrow(/sync "ftp:\/\/x"/);
  });

  it("a deployed unit's SPIRT_QUEUES=sqs must agree with the network file", () => {
    expect(() => checkQueuesEnv({}, peer('p1'))).not.toThrow();
    expect(() => checkQueuesEnv({ SPIRT_QUEUES: 'sqs' }, peer('p1'))).toThrow(/lists no queues for p1/);
    expect(() => checkQueuesEnv({ SPIRT_QUEUES: 'kafka' }, peer('p1'))).toThrow(/use sqs or redis/);
    const env = { SPIRT_QUEUES: 'sqs', SPIRT_SQS_JOIN_REQUESTS_URL: urls('p1')['join-requests'] };
    expect(() => checkQueuesEnv(env, peer('p1', true))).not.toThrow();
    expect(() => checkQueuesEnv({ ...env, SPIRT_SQS_SYNC_URL: 'http://other' }, peer('p1', true))).toThrow(
      /SPIRT_SQS_SYNC_URL is http:\/\/other but the network file gives p1's sync queue/,
    );
  });
});
