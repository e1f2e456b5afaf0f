// The two message transports between peers pass the same protocol tests: Redis Streams (XADD straight into
// the recipient's Redis) and SQS (moto in server mode, a real HTTP endpoint speaking the SQS API) with the
// recipient's pump. Then what only SQS needs: redelivery after the visibility timeout, duplicates and
// malformed messages.
import { CreateQueueCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import Redis from 'ioredis';
import { connectRedis } from '../../lib/redis/connect';
import { inboxKeys, runKeys } from '../../lib/redis/keys';
import { messageId } from '../../lib/queue/message-id';
import { RedisStreamTransport } from '../../lib/queue/redis-streams';
import { SqsPump, SqsTransport } from '../../lib/queue/sqs';
import { QUEUE_KINDS, type MessageTransport, type PeerMessage, type QueueKind } from '../../lib/queue/types';
import { startTestRedis, type TestRedis } from '../helpers/servers';
import { motoClientConfig, startMoto, type MotoServer } from '../support/moto';

const PEERS = ['p1', 'p2'];
let moto: MotoServer;
const servers = new Map<string, TestRedis>();
const owners = new Map<string, Redis>();
let sqs: SQSClient;
const queueUrls = new Map<string, string>();
const pumps = new Map<string, SqsPump>();

beforeAll(async () => {
  moto = await startMoto();
  sqs = new SQSClient({ ...motoClientConfig, endpoint: moto.endpoint });
  for (const peer of PEERS) {
    const server = await startTestRedis({ module: false });
    servers.set(peer, server);
    owners.set(peer, await connectRedis(server.endpoint, { name: `owner-${peer}` }));
    const queues: Partial<Record<QueueKind, string>> = {};
    for (const kind of QUEUE_KINDS) {
      const out = await sqs.send(new CreateQueueCommand({ QueueName: `spirt-test-${peer}-${kind}` }));
      queueUrls.set(`${peer}/${kind}`, out.QueueUrl!);
      queues[kind] = out.QueueUrl!;
    }
    pumps.set(
      peer,
      new SqsPump({
        client: new SQSClient({ ...motoClientConfig, endpoint: moto.endpoint }),
        queues,
        redis: owners.get(peer)!,
        waitSeconds: 0,
        visibilityTimeout: 1,
      }),
    );
  }
}, 60_000);

afterAll(async () => {
  for (const r of owners.values()) r.disconnect();
  for (const s of servers.values()) await s.stop();
  sqs?.destroy();
  await moto?.stop();
});

const queueUrl = (peer: string, kind: QueueKind) => {
  const url = queueUrls.get(`${peer}/${kind}`);
  if (!url) throw new Error(`no queue ${kind} for ${peer}`);
  return url;
};

/** Drains every queue of `peer` into its Redis until a receive brings nothing. */
async function drain(peer: string): Promise<void> {
  const pump = pumps.get(peer)!;
  for (const kind of QUEUE_KINDS) while ((await pump.pumpOnce(kind, 0)).received > 0);
}

interface Harness {
  name: string;
  transport: () => MessageTransport;
  /** Whatever the recipient must do before its streams hold what was sent (nothing, or pump its queues). */
  settle: (peer: string) => Promise<void>;
}

const harnesses: Harness[] = [
  {
    name: 'Redis Streams',
    transport: () => new RedisStreamTransport(async (peer) => owners.get(peer)!),
    settle: async () => undefined,
  },
  {
    name: 'SQS (moto)',
    transport: () =>
      new SqsTransport({ client: new SQSClient({ ...motoClientConfig, endpoint: moto.endpoint }), queueUrl }),
    settle: drain,
  },
];

const entries = async (peer: string, stream: string) =>
  ((await owners.get(peer)!.xrange(stream, '-', '+')) as [string, string[]][]).map(([, f]) => f);

describe.each(harnesses)('$name transport', (h) => {
  const run = `q${h.name.replace(/[^a-z]/gi, '').toLowerCase()}`;
  const sync = runKeys(run).syncStream;

  afterEach(async () => {
    for (const peer of PEERS) await owners.get(peer)!.del(sync, inboxKeys.joinRequests, inboxKeys.credentials);
  });

  it("delivers each message to the recipient's stream with its fields, and only there", async () => {
    const t = h.transport();
    const msg: PeerMessage = { stream: sync, fields: ['type', 'ready', 'peer', 'p1', 'step', '3'], id: messageId() };
    await t.deliver('p2', msg);
    await h.settle('p2');
    await h.settle('p1');
    expect(await entries('p2', sync)).toEqual([msg.fields]);
    expect(await entries('p1', sync)).toEqual([]);
    await t.close();
  });

  it('routes handshake messages to the inboxes and refuses a stream other peers may not write', async () => {
    const t = h.transport();
    await t.deliver('p1', { stream: inboxKeys.joinRequests, fields: ['msg', '{"hello":1}'], id: messageId() });
    await t.deliver('p1', { stream: inboxKeys.credentials, fields: ['msg', '{"welcome":1}'], id: messageId() });
    await expect(t.deliver('p1', { stream: runKeys(run).params, fields: ['x', '1'], id: messageId() })).rejects.toThrow(
      /not one other peers may write to/,
    );
    await h.settle('p1');
    expect(await entries('p1', inboxKeys.joinRequests)).toEqual([['msg', '{"hello":1}']]);
    expect(await entries('p1', inboxKeys.credentials)).toEqual([['msg', '{"welcome":1}']]);
    expect(await owners.get('p1')!.exists(runKeys(run).params)).toBe(0);
    await t.close();
  });

  it('delivers every one of many messages from concurrent senders (in any order)', async () => {
    const senders = [h.transport(), h.transport()];
    const sent = Array.from({ length: 40 }, (_, i) => ['peer', `p${1 + (i % 2)}`, 'n', String(i)]);
    await Promise.all(sent.map((fields, i) => senders[i % 2].deliver('p2', { stream: sync, fields, id: messageId() })));
    await h.settle('p2');
    const got = await entries('p2', sync);
    expect(got.map((f) => Number(f[3])).sort((a, b) => a - b)).toEqual(sent.map((_, i) => i));
    for (const t of senders) await t.close();
  });
});

describe('SQS semantics the protocol handles', () => {
  const sync = runKeys('sqsonly').syncStream;
  afterEach(async () => owners.get('p1')!.del(sync));

  it('a message redelivered (same id, sent twice) is appended once', async () => {
    const t = new SqsTransport({ client: new SQSClient({ ...motoClientConfig, endpoint: moto.endpoint }), queueUrl });
    const msg: PeerMessage = { stream: sync, fields: ['type', 'ready'], id: messageId() };
    await t.deliver('p1', msg);
    await t.deliver('p1', msg);
    await drain('p1');
    expect(await entries('p1', sync)).toEqual([msg.fields]);
    await t.close();
  });

  it('a message received but not deleted (the pump died) comes back after the visibility timeout, once', async () => {
    const url = queueUrl('p1', 'sync');
    const body = JSON.stringify({ v: 1, stream: sync, fields: ['a', '1'], id: messageId() });
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: body }));
    // A pump that appends and then dies before deleting: simulated by a receive whose delete never happens.
    const { ReceiveMessageCommand } = await import('@aws-sdk/client-sqs');
    const first = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: url, VisibilityTimeout: 1, WaitTimeSeconds: 0 }),
    );
    expect(first.Messages).toHaveLength(1);
    // While hidden, nothing arrives; after the timeout the pump gets it and appends it once.
    expect((await pumps.get('p1')!.pumpOnce('sync', 0)).received).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const r = await pumps.get('p1')!.pumpOnce('sync', 1);
    expect(r).toMatchObject({ received: 1, appended: 1 });
    expect(await entries('p1', sync)).toEqual([['a', '1']]);
    // Deleted: nothing comes back.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect((await pumps.get('p1')!.pumpOnce('sync', 0)).received).toBe(0);
  });

  it('malformed messages are dropped and deleted: not JSON, a stream of another kind, odd fields, bad id', async () => {
    const url = queueUrl('p1', 'sync');
    const bad = [
      'not json',
      JSON.stringify({ v: 1, stream: inboxKeys.credentials, fields: ['a', '1'], id: messageId() }),
      JSON.stringify({ v: 1, stream: 'spirt:x:model:params', fields: ['a', '1'], id: messageId() }),
      JSON.stringify({ v: 1, stream: sync, fields: ['a'], id: messageId() }),
      JSON.stringify({ v: 1, stream: sync, fields: ['a', '1'], id: 'x' }),
      JSON.stringify({ v: 2, stream: sync, fields: ['a', '1'], id: messageId() }),
    ];
    for (const MessageBody of bad) await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody }));
    let malformed = 0;
    for (;;) {
      const r = await pumps.get('p1')!.pumpOnce('sync', 0);
      if (r.received === 0) break;
      malformed += r.malformed;
      expect(r.appended).toBe(0);
    }
    expect(malformed).toBe(bad.length);
    expect(await owners.get('p1')!.exists(sync, 'spirt:x:model:params', inboxKeys.credentials)).toBe(0);
  });

  it('the running pump moves messages as they come and stops cleanly', async () => {
    const p = pumps.get('p2')!;
    const t = new SqsTransport({ client: new SQSClient({ ...motoClientConfig, endpoint: moto.endpoint }), queueUrl });
    const stream = runKeys('sqsrun').syncStream;
    p.start();
    await t.deliver('p2', { stream, fields: ['k', 'v'], id: messageId() });
    const deadline = Date.now() + 10_000;
    while ((await owners.get('p2')!.xlen(stream)) === 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 100));
    await p.stop();
    expect(await entries('p2', stream)).toEqual([['k', 'v']]);
    await owners.get('p2')!.del(stream);
    await t.close();
  });
});
