// Peers on separate hosts, on this machine: four `spirt peer start` processes, each its own peer on its own
// loopback address (127.0.0.11 to 127.0.0.14), Temporal on another (127.0.0.2), set up as a user does with
// the CLI alone: spirt temporal setup, spirt admin init / network init / network add-peer, spirt keys
// generate, spirt peer start, spirt train --network-file. The peers' messages (handshake, sync, removals) go
// through their SQS queues on moto in server mode, pumped into their Redis streams. Then the fault test of
// the fault-tolerance issue in this layout: kill -9 of one peer's redis-server mid-epoch.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { failureTimeline, results, waitForStep } from '../../bench/fault-run';
import { peerWorkflowId } from '../../lib/protocol/names';
import type { TrainingResult } from '../../lib/protocol/types';
import { readNetworkFileAt } from '../../lib/peer/network-file';
import { stopChild } from '../../lib/stack/child';
import { freePort } from '../../lib/stack/ports';
import type { StackFile } from '../../lib/stack/stack-file';
import { startTemporalDevServer, type TemporalDevServer } from '../../lib/stack/temporal-process';
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { QUEUE_KINDS } from '../../lib/queue/types';
import { connectRedis } from '../../lib/redis/connect';
import { runKeys } from '../../lib/redis/keys';
import { localOwnerEndpoint } from '../../lib/stack/owner-access';
import { toolchain } from '../helpers/servers';
import { motoClientConfig, startMoto, type MotoServer } from '../support/moto';
import { forwardTcp, type TcpForward } from '../support/tcp-forward';

jest.setTimeout(420_000);

const SPIRT = join(__dirname, '..', '..', 'bin', 'spirt.js');
const PEERS = ['p1', 'p2', 'p3', 'p4'];
const hostOf = (i: number) => `127.0.0.${11 + i}`;
const TEMPORAL_HOST = '127.0.0.2';

let root: string;
let temporal: TemporalDevServer;
/** Temporal as the peers see it: 127.0.0.2 (see test/support/tcp-forward.ts for why it is forwarded). */
let temporalFront: TcpForward;
let networkFile: string;
const peerProcs = new Map<string, ChildProcess>();
const peerOutput = new Map<string, string>();
let client: Client;
let connection: Connection;
let moto: MotoServer;
/** moto takes any credentials; the peers' SQS clients find these in their environment (the default chain). */
const AWS_ENV = {
  AWS_ACCESS_KEY_ID: motoClientConfig.credentials.accessKeyId,
  AWS_SECRET_ACCESS_KEY: motoClientConfig.credentials.secretAccessKey,
};

/** Runs the CLI (asynchronously: the Temporal forwarder lives in this process's event loop). */
const spirt = (args: string[]) =>
  new Promise<string>((resolve, reject) => {
    execFile(process.execPath, [SPIRT, ...args], { timeout: 300_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`spirt ${args.join(' ')} failed (${err.code}): ${stderr}${stdout}`));
      else resolve(stdout);
    });
  });
const peerDir = (p: string) => join(root, 'hosts', p);

/** Starts `spirt peer start` for one peer and resolves once it says it is up. */
function startPeer(peer: string): Promise<void> {
  const child = spawn(
    process.execPath,
    [
      SPIRT,
      'peer',
      'start',
      '--peer',
      peer,
      '--network-file',
      networkFile,
      '--state-dir',
      peerDir(peer),
      '--functions',
      '3',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, ...AWS_ENV } },
  );
  peerProcs.set(peer, child);
  peerOutput.set(peer, '');
  const append = (chunk: Buffer) => peerOutput.set(peer, (peerOutput.get(peer) ?? '') + chunk.toString());
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  return new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      if ((peerOutput.get(peer) ?? '').includes(`peer ${peer} is up`)) {
        clearInterval(timer);
        resolve();
      }
    }, 100);
    child.once('exit', (code) => {
      clearInterval(timer);
      reject(new Error(`spirt peer start ${peer} exited (${code}): ${peerOutput.get(peer)}`));
    });
  });
}

beforeAll(async () => {
  const tc = toolchain();
  root = mkdtempSync(join(tmpdir(), 'spirt-multihost-'));
  temporal = await startTemporalDevServer({
    executable: tc.temporal,
    port: await freePort(),
    dbFile: join(root, 'temporal', 'temporal.db'),
    searchAttributes: false,
  });
  const [, port] = temporal.address.split(':');
  temporalFront = await forwardTcp(
    { host: TEMPORAL_HOST, port: await freePort(TEMPORAL_HOST) },
    { host: '127.0.0.1', port: Number(port) },
  );
  await spirt(['temporal', 'setup', '--address', temporalFront.address]);
  // Each peer's three queues, as the deployment creates them.
  moto = await startMoto();
  const sqs = new SQSClient({ ...motoClientConfig, endpoint: moto.endpoint });
  const queuesOf = new Map<string, string>();
  for (const p of PEERS) {
    const urls: string[] = [];
    for (const kind of QUEUE_KINDS) {
      const out = await sqs.send(new CreateQueueCommand({ QueueName: `spirt-mh-${p}-${kind}` }));
      urls.push(`${kind}=${out.QueueUrl!}`);
    }
    queuesOf.set(p, urls.join(','));
  }
  sqs.destroy();
  const admin = join(root, 'admin');
  networkFile = join(root, 'network.json');
  await spirt(['admin', 'init', '--dir', admin]);
  await spirt([
    'admin',
    'network',
    'init',
    '--dir',
    admin,
    '--out',
    networkFile,
    '--name',
    'mh',
    '--temporal',
    temporalFront.address,
    '--sqs-region',
    motoClientConfig.region,
    '--sqs-endpoint',
    moto.endpoint,
  ]);
  for (const [i, p] of PEERS.entries()) {
    await spirt(['keys', 'generate', '--peer', p, '--out', join(peerDir(p), 'identity')]);
    const port = await freePort(hostOf(i));
    await spirt([
      'admin',
      'network',
      'add-peer',
      '--dir',
      admin,
      '--file',
      networkFile,
      '--pubkeys',
      join(peerDir(p), 'identity', 'pubkeys.json'),
      '--redis',
      `${hostOf(i)}:${port}`,
      '--queues',
      queuesOf.get(p)!,
    ]);
  }
  // The four hosts come up together, each greeting the others (retrying those not up yet).
  await Promise.all(PEERS.map((p) => startPeer(p)));
  connection = await Connection.connect({ address: temporalFront.address });
  client = new Client({ connection });
}, 240_000);

afterAll(async () => {
  await connection?.close();
  await Promise.all([...peerProcs.values()].map((c) => stopChild(c, 20_000).catch(() => undefined)));
  await temporalFront?.close();
  await temporal?.stop();
  await moto?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

/** What the fault helpers need to read the survivors' streams: the peers' endpoints and identity dirs. */
function layout(): StackFile {
  const network = readNetworkFileAt(networkFile);
  return {
    id: 'mh',
    pid: process.pid,
    startedAt: '',
    temporal: { ...network.temporal, uiUrl: '' },
    network: network.network,
    peers: network.peers.map((p) => ({
      id: p.id,
      rank: p.rank,
      host: p.redis.host,
      port: p.redis.port,
      taskQueue: p.taskQueue,
      dataDir: peerDir(p.id),
      identityDir: join(peerDir(p.id), 'identity'),
    })),
    moduleLoaded: true,
    workflowBundle: '',
  };
}

const TRAIN = [
  '--model',
  'softmax',
  '--peers',
  '4',
  '--train-limit',
  '4096',
  '--test-limit',
  '2000',
  '--batch-size',
  '32',
  '--shards-per-peer',
  '2',
  '--lr',
  '0.1',
  '--seed',
  '7',
];

describe('four peers on separate hosts (127.0.0.11-14), Temporal on 127.0.0.2', () => {
  it('every peer listens on its own address, all trust each other, and a run trains to the same model', async () => {
    const network = readNetworkFileAt(networkFile);
    expect(network.peers.map((p) => p.redis.host)).toEqual(PEERS.map((_, i) => hostOf(i)));
    for (const p of PEERS) expect(peerOutput.get(p)).toMatch(/trusted by handshake: (p\d, ){2}p\d/);
    const stateDir = join(root, 'client');
    const out = await spirt([
      'train',
      '--network-file',
      networkFile,
      '--state-dir',
      stateDir,
      '--run',
      'mh-ok',
      '--epochs',
      '2',
      ...TRAIN,
    ]);
    expect(out).toMatch(/run mh-ok: started 4 peer workflows/);
    const summary = JSON.parse(readFileSync(join(stateDir, 'runs', 'mh-ok', 'summary.json'), 'utf8')) as {
      peerOutcomes: { peer: string; outcome: string }[];
    };
    expect(summary.peerOutcomes.map((p) => p.outcome)).toEqual(['completed', 'completed', 'completed', 'completed']);
    const ends = await results(PEERS.map((p) => client.workflow.getHandle(peerWorkflowId('mh-ok', p))));
    const accs = ends.map((e) => ('result' in e ? (e.result as TrainingResult).history.at(-1)?.testAccuracy : NaN));
    expect(new Set(accs).size).toBe(1);
    expect(accs[0]).toBeGreaterThan(0.8);
    // Every sync message came through the peer's SQS queue: the pump remembers each message id it appended.
    for (const p of PEERS) {
      const redis = await connectRedis(await localOwnerEndpoint(layout(), p), { name: 'test' });
      try {
        const synced = await redis.xlen(runKeys('mh-ok').syncStream);
        const pumped = (await redis.keys('spirt:queue:seen:*')).length;
        expect(synced).toBeGreaterThan(0);
        expect(pumped).toBeGreaterThanOrEqual(synced);
      } finally {
        redis.disconnect();
      }
    }
  });

  it("kill -9 of a peer's redis-server mid-epoch: detected within 3 s, agreed, data redistributed, no epoch lost", async () => {
    const stateDir = join(root, 'client');
    const run = 'mh-kill';
    const train = spawn(
      process.execPath,
      [SPIRT, 'train', '--network-file', networkFile, '--state-dir', stateDir, '--run', run, '--epochs', '3', ...TRAIN],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let trainOut = '';
    train.stdout?.on('data', (c: Buffer) => (trainOut += c.toString()));
    train.stderr?.on('data', (c: Buffer) => (trainOut += c.toString()));
    const trainDone = new Promise<number | null>((resolve) => train.once('exit', resolve));
    await waitForStep(layout(), run, 'p2', 2, 6, 240_000);
    // p2's redis-server (its own process on "its host"), found by the process title redis-server sets.
    const p2Redis = readNetworkFileAt(networkFile).peers.find((p) => p.id === 'p2')!.redis;
    const found = spawnSync('pgrep', ['-f', `redis-server ${p2Redis.host}:${p2Redis.port}`], { encoding: 'utf8' });
    const pid = Number(found.stdout.trim().split('\n')[0]);
    expect(pid).toBeGreaterThan(0);
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    expect(await trainDone).toBe(0);
    expect(trainOut).toMatch(/done: test accuracy/);
    const ends = await results(
      PEERS.filter((p) => p !== 'p2').map((p) => client.workflow.getHandle(peerWorkflowId(run, p))),
    );
    const done = ends.map((e) => {
      if (!('result' in e)) throw new Error(`peer ${e.peer} failed: ${e.failure}`);
      return e.result;
    });
    expect(done.every((r) => r.history.map((h) => h.epoch).join() === '1,2,3')).toBe(true);
    const removals = done.map((r) => r.membership.filter((e) => e.peer === 'p2' && e.change === 'removed'));
    expect(removals.every((r) => r.length === 1)).toBe(true);
    expect(new Set(removals.map((r) => `${r[0].epoch}:${r[0].step}`)).size).toBe(1);
    expect(done.map((r) => r.history[2].parallelism)).toEqual([3, 3, 2]);
    const timeline = await failureTimeline(layout(), run, 'p2', ['p1', 'p3', 'p4'], killedAt, removals[0][0]);
    expect(timeline.detectionMs).toBeLessThanOrEqual(3000);
    // p2's `spirt peer start` noticed its Redis died and stopped with an error (a supervisor restarts it).
    const code = await new Promise<number | null>((resolve) => {
      const c = peerProcs.get('p2')!;
      if (c.exitCode !== null) resolve(c.exitCode);
      else c.once('exit', resolve);
    });
    expect(code).toBe(1);
    expect(peerOutput.get('p2')).toMatch(/redis of peer p2 stopped \(killed\)/);
    // spirt train ended although p2's own workflow never can (its host is down): the others removed it.
    const summary = JSON.parse(readFileSync(join(stateDir, 'runs', run, 'summary.json'), 'utf8')) as {
      peerOutcomes: { peer: string; outcome: string }[];
    };
    // p2's own workflow either waits for a worker that is gone (followed no longer: 'removed') or failed first
    // (its in-Redis steps ran out of retries against its dead Redis before its worker stopped): both say it
    // left, neither that it finished. (The output is in the comparison so that a failure says how it ended.)
    const p2End = summary.peerOutcomes.find((p) => p.peer === 'p2')?.outcome;
    expect({ left: p2End === 'removed' || p2End === 'failed', p2End, trainOut }).toEqual({
      left: true,
      p2End,
      trainOut,
    });
    expect(existsSync(join(stateDir, 'runs', run, 'summary.json'))).toBe(true);
  });
});
