// Security on real servers: one local stack (a Temporal dev server, 3 founding peers and 1 standby peer, each
// with its own redis-server serving TLS only, worker, keys under its own local KMS, and least-privilege ACL
// users made by the initialisation handshake). Runs are started as users start them; attacks are done, not simulated: forged
// and replayed messages appended to a peer's real inbox, a byte flipped in a peer's real database, a peer's
// real ACL user trying to write another peer's model.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client, Connection } from '@temporalio/client';
import {
  results,
  startRun,
  stepMetrics,
  temporalClient,
  waitForStatus,
  waitForStep,
  type PeerOutcome,
} from '../../bench/fault-run';
import { parseRunConfig } from '../../lib/config';
import type { RunConfigInput } from '../../lib/config/schema';
import {
  generateAdminKeys,
  generatePeerKeys,
  issueEnrolment,
  openSealed,
  sealTo,
  signEnvelope,
  type PeerKeys,
} from '../../lib/crypto';
import { loadAdminKey } from '../../lib/peer/admin';
import { loadPeerIdentity, type PeerIdentity } from '../../lib/peer/identity';
import { networkPeer, readNetworkFile, type NetworkFile } from '../../lib/peer/network-file';
import { credentialAad } from '../../lib/peer/security';
import { readTrustedPeer, readTrustedPeers } from '../../lib/peer/trust';
import { peerWorkflowId } from '../../lib/protocol/names';
import type { TrainingResult } from '../../lib/protocol/types';
import { connectRedis, type RedisClient } from '../../lib/redis/connect';
import { inboxKeys, peerKeys, runKeys } from '../../lib/redis/keys';
import { freePort, freePortRange } from '../../lib/stack/ports';
import { startStack, type Stack } from '../../lib/stack/stack';
import { bufferToFloat32 } from '../../lib/tensor/float32';
import { excess } from '../helpers/replay';
import { toolchain } from '../helpers/servers';
import { findSecrets, textOf } from './secrets';

jest.setTimeout(300_000);

const SPIRT = join(__dirname, '..', '..', 'bin', 'spirt.js');
const SMALL: RunConfigInput = {
  model: 'softmax',
  peers: 3,
  trainLimit: 3072,
  testLimit: 1000,
  batchSize: 32,
  shardsPerPeer: 2,
  epochs: 3,
  learningRate: 0.1,
  seed: 11,
};

let stack: Stack;
let stateDir: string;
let client: Client;
let connection: Connection;
let network: NetworkFile;
const identities = new Map<string, PeerIdentity>();
let runCounter = 0;
const runId = (what: string) => `s${process.pid % 10000}-${++runCounter}-${what}`;

const spirt = (args: string[]) =>
  spawnSync(process.execPath, [SPIRT, ...args, '--state-dir', stateDir], { encoding: 'utf8', timeout: 120_000 });
const owner = (peerId: string) => connectRedis(stack.ownerEndpoint(peerId));
const completed = (outcomes: PeerOutcome[]): TrainingResult[] =>
  outcomes.map((o) => {
    if (!('result' in o)) throw new Error(`peer ${o.peer} failed: ${o.failure}`);
    return o.result;
  });
async function withOwner<T>(peerId: string, fn: (redis: RedisClient) => Promise<T>): Promise<T> {
  const redis = await owner(peerId);
  try {
    return await fn(redis);
  } finally {
    redis.disconnect();
  }
}
const params = (peerId: string, run: string) =>
  withOwner(peerId, async (r) => bufferToFloat32((await r.getBuffer(runKeys(run).params)) as Buffer));

/** The credential `holder` received for `database` in the handshake, opened with the holder's own key. */
async function credentialOf(holder: string, database: string): Promise<{ username: string; password: string }> {
  const trusted = await withOwner(holder, (r) => readTrustedPeer(r, database));
  if (!trusted?.credential) throw new Error(`${holder} holds no credential for ${database}`);
  const password = openSealed(
    (identities.get(holder) as PeerIdentity).keys.encryption.privateKey,
    JSON.parse(trusted.credential.sealedPassword),
    credentialAad(network.network, database, holder),
  ).toString();
  return { username: trusted.credential.username, password };
}

/** Appends a message to a peer's public inbox, as anyone holding the network file can. */
async function toInbox(peerId: string, stream: string, message: unknown): Promise<void> {
  const { redis, inbox } = networkPeer(network, peerId);
  const box = await connectRedis({ ...redis, ...inbox });
  await box.xadd(stream, '*', 'msg', typeof message === 'string' ? message : JSON.stringify(message));
  box.disconnect();
}

/** A join request from `sender` to `recipient`, built like the real one, with what the test chooses. */
function joinRequest(opts: {
  sender: string;
  recipient: string;
  keys: PeerKeys;
  enrolment: string;
  signWith?: string;
  password?: string;
  type?: 'join-request' | 'welcome';
}) {
  const payload = {
    enrolment: opts.enrolment,
    rank: 9,
    taskQueue: 'nowhere',
    redis: networkPeer(network, 'p1').redis,
    inbox: networkPeer(network, 'p1').inbox,
    username: `peer:${opts.recipient}`,
    sealedPassword: JSON.stringify(
      sealTo(
        networkKeys(opts.recipient).encryptionKey,
        Buffer.from(opts.password ?? 'not-the-password'),
        credentialAad(network.network, opts.sender, opts.recipient),
      ),
    ),
  };
  return signEnvelope(
    {
      type: opts.type ?? 'join-request',
      network: network.network,
      sender: opts.sender,
      recipient: opts.recipient,
      payload,
    },
    opts.signWith ?? opts.keys.signing.privateKey,
  );
}

function networkKeys(peerId: string): { signingKey: string; encryptionKey: string } {
  const id = identities.get(peerId) as PeerIdentity;
  return { signingKey: id.keys.signing.publicKey, encryptionKey: id.keys.encryption.publicKey };
}

beforeAll(async () => {
  toolchain();
  stateDir = mkdtempSync(join(tmpdir(), 'spirt-security-'));
  stack = await startStack({
    peers: 3,
    standby: 1,
    // Every connection of this suite (workers, functions, handshakes, probes, the tests') goes over TLS.
    tls: true,
    stateDir,
    temporalPort: await freePort(),
    redisPortBase: await freePortRange(16),
  });
  ({ client, connection } = await temporalClient(stack.file));
  network = readNetworkFile(stateDir);
  for (const p of stack.file.peers) {
    identities.set(p.id, await loadPeerIdentity(p.identityDir, p.id));
  }
});

afterAll(async () => {
  await connection?.close();
  await stack?.stop();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

describe('security on a real stack (3 peers + 1 standby)', () => {
  it('initialisation handshake: each founder trusts the others, gave each its own user, and no file holds a shared password', async () => {
    for (const peer of ['p1', 'p2', 'p3']) {
      const trusted = await withOwner(peer, readTrustedPeers);
      expect(trusted.map((t) => t.peer).sort()).toEqual(['p1', 'p2', 'p3'].filter((p) => p !== peer));
      expect(trusted.every((t) => t.credential && t.userCreated)).toBe(true);
      const users = (await withOwner(peer, (r) => r.call('ACL', 'USERS'))) as string[];
      expect(users.filter((u) => u.startsWith('peer:')).sort()).toEqual(
        ['p1', 'p2', 'p3'].filter((p) => p !== peer).map((p) => `peer:${p}`),
      );
    }
    // The standby peer is not in the network yet.
    expect(await withOwner('p1', (r) => readTrustedPeer(r, 'p4'))).toBeNull();
    const stackFile = readFileSync(join(stateDir, 'stack.json'), 'utf8');
    expect(stackFile).not.toMatch(/password/i);
    for (const id of identities.values()) expect(stackFile).not.toContain(id.ownerPassword);
  });

  it('least privilege: a peer may read what it needs but gets NOPERM writing another peer\u2019s model, and a wrong password is refused', async () => {
    const cred = await credentialOf('p2', 'p1');
    const asP2 = await connectRedis({ ...networkPeer(network, 'p1').redis, ...cred });
    try {
      expect(await asP2.get(peerKeys.heartbeat)).not.toBeNull();
      await expect(asP2.set(runKeys('r1').params, 'x')).rejects.toThrow(/NOPERM/);
      await expect(asP2.set(runKeys('r1').momentum, 'x')).rejects.toThrow(/NOPERM/);
      await expect(asP2.hset(peerKeys.trustedPeers, 'p2', '{}')).rejects.toThrow(/NOPERM/);
      await expect(asP2.get(runKeys('r1').params)).rejects.toThrow(/NOPERM/);
      // Published averages are copied in pieces (GETRANGE); the model cannot be read that way either.
      expect(await asP2.getrange(runKeys('r1').averagedGradient(1, 0), 0, 3)).toBe('');
      await expect(asP2.getrange(runKeys('r1').params, 0, 3)).rejects.toThrow(/NOPERM/);
      await expect(asP2.call('ACL', 'SETUSER', 'evil', 'on', '>x', '+@all')).rejects.toThrow(/NOPERM/);
      expect(await asP2.xadd(runKeys('r1').syncStream, '*', 'type', 'test')).toMatch(/-/);
    } finally {
      asP2.disconnect();
    }
    await expect(
      connectRedis({ ...networkPeer(network, 'p1').redis, username: cred.username, password: `${cred.password}x` }),
    ).rejects.toThrow(/wrong password/);
    // TLS only: the right credential over plain TCP gets nowhere.
    const { tls, ...plain } = networkPeer(network, 'p1').redis;
    expect(tls?.ca).toMatch(/BEGIN CERTIFICATE/);
    await expect(connectRedis({ ...plain, ...cred }, { timeoutMs: 1000 })).rejects.toThrow(/cannot reach Redis/);
  });

  it('a 4th peer joins a 3-peer run in epoch 2 through the signed handshake; forged, foreign, expired, revoked, replayed, misaddressed and wrong-password join messages are refused with their reason meanwhile', async () => {
    const admin = await loadAdminKey(join(stateDir, 'admin'));
    const stranger = (peer: string, opts: { admin?: string; expiresAt?: Date; issuedAt?: Date } = {}) => {
      const keys = generatePeerKeys('modern');
      const enrolment = issueEnrolment(opts.admin ?? admin.privateKey, {
        network: network.network,
        peer,
        suite: keys.suite,
        signingKey: keys.signing.publicKey,
        encryptionKey: keys.encryption.publicKey,
        expiresAt: opts.expiresAt ?? new Date(Date.now() + 3_600_000),
        ...(opts.issuedAt ? { issuedAt: opts.issuedAt } : {}),
      });
      return { keys, enrolment };
    };
    // Forged: p4's real token, but signed with a key that is not p4's.
    const p4Token = networkPeer(network, 'p4').enrolment;
    const forged = joinRequest({
      sender: 'p4',
      recipient: 'p1',
      keys: identities.get('p4')!.keys,
      enrolment: p4Token,
      signWith: generatePeerKeys('modern').signing.privateKey,
    });
    const other = stranger('p7', { admin: generateAdminKeys().privateKey });
    const fromOtherAdmin = joinRequest({ sender: 'p7', recipient: 'p1', ...other });
    const old = stranger('p8', { issuedAt: new Date(Date.now() - 7_200_000), expiresAt: new Date(Date.now() - 1000) });
    const expired = joinRequest({ sender: 'p8', recipient: 'p1', ...old });
    const gone = stranger('p6');
    const revocation = spirt(['admin', 'revoke', '--peer', 'p6', '--apply']);
    expect(revocation.stderr).toBe('');
    expect(revocation.stdout).toMatch(/applied on p1/);
    const revoked = joinRequest({ sender: 'p6', recipient: 'p1', ...gone });
    const valid = stranger('p9');
    const misaddressed = joinRequest({ sender: 'p9', recipient: 'p2', ...valid });
    const wrongPassword = joinRequest({ sender: 'p9', recipient: 'p1', ...valid, password: 'guessed' });
    for (const m of [forged, fromOtherAdmin, expired, revoked, misaddressed, wrongPassword, wrongPassword])
      await toInbox('p1', inboxKeys.joinRequests, m);
    await toInbox('p1', inboxKeys.joinRequests, '{not json');
    // A reply (welcome) meant for p2, dropped into the newcomer's credentials inbox.
    await toInbox(
      'p4',
      inboxKeys.credentials,
      joinRequest({ sender: 'p9', recipient: 'p2', type: 'welcome', ...valid }),
    );

    // Enough epochs for the handshake (a process start, several seconds on a loaded machine) and an epoch
    // boundary after it, at the chained steps' pace (an epoch of this run takes about half a second): a peer
    // added after the run's last epoch boundary is never admitted, and the test would wait for it.
    const config = parseRunConfig({ ...SMALL, run: runId('join'), epochs: 40 });
    const handles = await startRun(client, stack.file, config);
    await waitForStep(stack.file, config.run, 'p1', 2, 1);
    const started = Date.now();
    const added = spirt(['peer', 'add', 'p4', '--run', config.run]);
    expect(added.stderr).toBe('');
    expect(added.status).toBe(0);
    const joinMs = Date.now() - started;
    expect(added.stdout).toMatch(/p4 joined network .* trusted by p1, p2, p3/);

    // Every refused message is in p1's security stream with its reason; training went on.
    const events = await withOwner('p1', (r) => r.xrange(peerKeys.securityStream, '-', '+'));
    const rejected = events
      .map(([, f]) => Object.fromEntries(Array.from({ length: f.length / 2 }, (_, i) => [f[2 * i], f[2 * i + 1]])))
      .filter((e) => e.event === 'rejected')
      .map((e) => `${e.from}: ${e.reason}`);
    const expectRejected = (pattern: RegExp) => expect(rejected.some((r) => pattern.test(r))).toBe(true);
    expectRejected(/^p4: .*signature/i);
    expectRejected(/^p7: .*administrator/i);
    expectRejected(/^p8: .*expired/i);
    expectRejected(/^p6: .*revoked/i);
    expectRejected(/^p9: .*(addressed|recipient).*p2/i);
    expectRejected(/^p9: .*credential does not work.*wrong password/i);
    expectRejected(/^p9: .*replay/i);
    expectRejected(/^unknown: .*JSON/i);
    expect(await withOwner('p1', (r) => readTrustedPeer(r, 'p9'))).toBeNull();
    const atP4 = await withOwner('p4', (r) => r.xrange(peerKeys.securityStream, '-', '+'));
    expect(
      atP4.some(([, f]) => f.includes('rejected') && f.includes('p9') && f.some((x) => /addressed|recipient/i.test(x))),
    ).toBe(true);

    const done = completed(await results([...handles, client.workflow.getHandle(peerWorkflowId(config.run, 'p4'))]));
    expect(done.map((r) => r.outcome)).toEqual(['completed', 'completed', 'completed', 'completed']);
    const joinedAt = done[0].membership.find((e) => e.peer === 'p4' && e.change === 'added');
    expect(joinedAt?.reason).toBe('joined through the handshake');
    expect(done[3].history[0].epoch).toBe((joinedAt?.epoch ?? 0) + 1);
    expect(done[3].history[0].epoch).toBeLessThanOrEqual(config.epochs);
    expect(done.every((r) => r.history[r.history.length - 1].activePeers.length === 4)).toBe(true);
    // Both sides recorded each other.
    for (const peer of ['p1', 'p2', 'p3']) {
      expect((await withOwner(peer, (r) => readTrustedPeer(r, 'p4')))?.credential).toBeDefined();
      expect((await withOwner('p4', (r) => readTrustedPeer(r, peer)))?.credential).toBeDefined();
    }
    // The 4th peer's parameters equal the others' at the end.
    const [p1, p2, p3, p4] = await Promise.all(['p1', 'p2', 'p3', 'p4'].map((p) => params(p, config.run)));
    for (const other of [p2, p3, p4]) expect(excess(other, p1)).toBeLessThanOrEqual(0);
    console.log(`join: spirt peer add took ${joinMs} ms (process start included)`);
  });

  it('revocation: spirt admin revoke --apply makes every peer drop the peer, delete its user and refuse its token', async () => {
    const revoked = spirt(['admin', 'revoke', '--peer', 'p4', '--apply']);
    expect(revoked.stderr).toBe('');
    expect(revoked.stdout).toMatch(/applied on p1[\s\S]*applied on p2[\s\S]*applied on p3/);
    for (const peer of ['p1', 'p2', 'p3']) {
      expect(await withOwner(peer, (r) => readTrustedPeer(r, 'p4'))).toBeNull();
      const users = (await withOwner(peer, (r) => r.call('ACL', 'USERS'))) as string[];
      expect(users).not.toContain('peer:p4');
    }
    const cred = await credentialOf('p4', 'p1').catch(() => null);
    if (cred) {
      await expect(connectRedis({ ...networkPeer(network, 'p1').redis, ...cred })).rejects.toThrow(/wrong password/);
    }
  });

  it('a tampered averaged gradient (one byte flipped after signing) is dropped by every other peer, with its reason in the metrics stream and the status query', async () => {
    const config = parseRunConfig({ ...SMALL, run: runId('tamper'), epochs: 1 });
    await withOwner('p2', (r) => r.set(runKeys(config.run).chaosTamper(1, 3), 'test'));
    const handles = await startRun(client, stack.file, config);
    await waitForStatus(handles[0], (s) => s.epoch === 1 && s.step >= 5);
    const status = await handles[0].query('status');
    expect((status as { dropped: { peer: string; step: number; reason: string }[] }).dropped).toEqual([
      expect.objectContaining({ peer: 'p2', step: 3, reason: expect.stringMatching(/tampered/) }),
    ]);
    const done = completed(await results(handles));
    expect(done.map((r) => r.outcome)).toEqual(['completed', 'completed', 'completed']);
    for (const peer of ['p1', 'p3']) {
      const metrics = await stepMetrics(stack.file, config.run, peer);
      const withDrops = metrics.filter((m) => m.dropped.length > 0);
      expect(withDrops.map((m) => [m.epoch, m.step])).toEqual([[1, 3]]);
      expect(withDrops[0].dropped).toEqual([{ peer: 'p2', reason: expect.stringMatching(/tampered/) }]);
    }
  });

  it('no secret in any workflow history or worker log (and the check finds one when it is planted)', async () => {
    const secrets: { what: string; value: string }[] = [];
    for (const [peer, id] of identities) {
      secrets.push({ what: `${peer} owner password`, value: id.ownerPassword });
      secrets.push({ what: `${peer} signing private key`, value: id.keys.signing.privateKey });
      secrets.push({ what: `${peer} encryption private key`, value: id.keys.encryption.privateKey });
      secrets.push({
        what: `${peer} KMS master key`,
        value: readFileSync(join(stack.file.peers.find((p) => p.id === peer)!.identityDir, 'master.key')).toString(
          'base64',
        ),
      });
      const trusted = await withOwner(peer, readTrustedPeers);
      for (const t of trusted) {
        const cred = await credentialOf(peer, t.peer);
        secrets.push({ what: `${peer}'s password for ${t.peer}`, value: cred.password });
      }
    }
    expect(secrets.length).toBeGreaterThan(16);
    let corpus = '';
    for await (const wf of client.workflow.list()) {
      const history = await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
      corpus += textOf(history).join('\n');
    }
    for (const file of readdirSync(stack.logDir)) corpus += readFileSync(join(stack.logDir, file), 'utf8');
    expect(corpus.length).toBeGreaterThan(100_000);
    expect(findSecrets(corpus, secrets)).toEqual([]);
    const planted = secrets[secrets.length - 1];
    expect(findSecrets(corpus + JSON.stringify({ note: planted.value }), secrets)).toEqual([planted.what]);
  });
});
