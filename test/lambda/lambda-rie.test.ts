// The Lambda path end to end: every gradient of a 2-peer run is computed by our handler running behind AWS's
// Lambda Runtime Interface Emulator (one emulator per peer's function, our Runtime API bootstrap inside),
// called by the peer worker through @aws-sdk/client-lambda with an endpoint override: a real Invoke round
// trip. Each call carries the peer's Redis endpoint and a `functions` user's credential sealed under the
// peer's own KMS key (moto in server mode); each function holds only its own peer's key id. The parameters
// equal those of a local-pool run with the same seed.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { parseRunConfig } from '../../lib/config';
import { functionCredentialContext } from '../../lib/protocol/functions';
import { connectRedis } from '../../lib/redis/connect';
import { runKeys } from '../../lib/redis/keys';
import { stopChild } from '../../lib/stack/child';
import { readToolchain } from '../../lib/stack/paths';
import { freePort, isPortFree } from '../../lib/stack/ports';
import { startStack, type Stack } from '../../lib/stack/stack';
import { bufferToFloat32 } from '../../lib/tensor/float32';
import { AwsKms } from '../../lib/kms/aws';
import { results, startRun, temporalClient } from '../../bench/fault-run';
import { motoClientConfig, startMoto, type MotoServer } from '../support/moto';

jest.setTimeout(300_000);

const FUNCTIONS = ['compute-gradient', 'evaluate', 'zeno-scores'] as const;
const RUNTIME_API = join(__dirname, '..', '..', 'dist', 'lambdas', 'runtime-api.js');
const PEERS = ['p1', 'p2'];
let moto: MotoServer;
const keyIds = new Map<string, string>();
const emulators: ChildProcess[] = [];
/** Invoke endpoint of each peer's function: `http://127.0.0.1:<port>`. */
const endpoints = new Map<string, string>();
const dirs: string[] = [];

/** The emulator path setup built. @throws Error telling how to build it */
function riePath(): string {
  const rie = readToolchain().lambdaRie;
  if (!rie) throw new Error('aws-lambda-rie is not built: run `node scripts/setup.js` (it builds it with go install)');
  return rie;
}

async function startEmulator(peer: string, fn: string, bootstrap = RUNTIME_API): Promise<string> {
  const port = await freePort();
  const api = await freePort();
  const child = spawn(
    riePath(),
    [
      '--runtime-interface-emulator-address',
      `127.0.0.1:${port}`,
      '--runtime-api-address',
      `127.0.0.1:${api}`,
      process.execPath,
      bootstrap,
      fn,
    ],
    {
      stdio: ['ignore', 'ignore', 'ignore'],
      detached: true,
      env: {
        ...process.env,
        ...awsEnv(),
        SPIRT_PEER_ID: peer,
        SPIRT_KMS_KEY_ID: keyIds.get(peer)!,
        SPIRT_KMS_ENDPOINT: moto.endpoint,
        AWS_LAMBDA_FUNCTION_NAME: `spirt-test-${peer}-${fn}`,
        AWS_LAMBDA_FUNCTION_TIMEOUT: '120',
      },
    },
  );
  emulators.push(child);
  const endpoint = `http://127.0.0.1:${port}`;
  // Up when its HTTP port accepts connections.
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      await fetch(`${endpoint}/`, { signal: AbortSignal.timeout(500) });
      return endpoint;
    } catch {
      if (child.exitCode !== null) throw new Error(`aws-lambda-rie for ${peer}/${fn} exited (${child.exitCode})`);
      if (Date.now() > deadline) throw new Error(`aws-lambda-rie for ${peer}/${fn} did not come up`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

const awsEnv = () => ({
  AWS_REGION: motoClientConfig.region,
  AWS_ACCESS_KEY_ID: motoClientConfig.credentials.accessKeyId,
  AWS_SECRET_ACCESS_KEY: motoClientConfig.credentials.secretAccessKey,
});

beforeAll(async () => {
  riePath();
  moto = await startMoto();
  const kms = new KMSClient({ ...motoClientConfig, endpoint: moto.endpoint });
  for (const p of PEERS)
    keyIds.set(p, (await kms.send(new CreateKeyCommand({ Description: `spirt ${p}` }))).KeyMetadata!.KeyId!);
  kms.destroy();
  for (const p of PEERS) for (const fn of FUNCTIONS) endpoints.set(`${p}/${fn}`, await startEmulator(p, fn));
});

afterAll(async () => {
  await Promise.all(emulators.map((c) => stopChild(c, 5000).catch(() => undefined)));
  await moto?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A port p with p + 1 free too (a 2-peer stack's Redis ports; the emulators hold ephemeral ports). */
async function freePortPair(): Promise<number> {
  for (;;) {
    const p = await freePort();
    if (p < 65535 && (await isPortFree(p + 1))) return p;
  }
}

/** A 2-peer stack, functions on the emulators (`lambda`) or in the local pool. */
async function stackOf(lambda: boolean): Promise<Stack> {
  const stateDir = mkdtempSync(join(tmpdir(), `spirt-lambda-${lambda ? 'rie' : 'pool'}-`));
  dirs.push(stateDir);
  return startStack({
    peers: 2,
    stateDir,
    temporalPort: await freePort(),
    redisPortBase: await freePortPair(),
    // The workers sign their Lambda and KMS calls with these (moto and the emulator accept any).
    workerEnv: awsEnv(),
    ...(lambda
      ? {
          lambda: (peer: string) => ({
            region: motoClientConfig.region,
            // The emulator serves its one function under the name `function`.
            functionNames: { 'compute-gradient': 'function', evaluate: 'function', 'zeno-scores': 'function' },
            endpoint: Object.fromEntries(FUNCTIONS.map((fn) => [fn, endpoints.get(`${peer}/${fn}`)!])),
            kmsKeyId: keyIds.get(peer)!,
            kmsEndpoint: moto.endpoint,
          }),
        }
      : {}),
  });
}

async function trainedParams(stack: Stack, run: string): Promise<Float32Array[]> {
  // One function call at a time per peer: the emulator runs one invocation at a time.
  const config = parseRunConfig({
    run,
    model: 'softmax',
    peers: 2,
    trainLimit: 1024,
    testLimit: 500,
    batchSize: 32,
    shardsPerPeer: 1,
    epochs: 2,
    learningRate: 0.1,
    seed: 11,
  });
  const { client, connection } = await temporalClient(stack.file);
  try {
    const handles = await startRun(client, stack.file, config);
    for (const o of await results(handles)) if (!('result' in o)) throw new Error(`${o.peer} failed: ${o.failure}`);
  } finally {
    await connection.close();
  }
  return Promise.all(
    PEERS.map(async (p) => {
      const redis = await connectRedis(stack.ownerEndpoint(p));
      try {
        return bufferToFloat32((await redis.getBuffer(runKeys(run).params)) as Buffer);
      } finally {
        redis.disconnect();
      }
    }),
  );
}

describe('functions on AWS Lambda (Runtime Interface Emulator), one per peer', () => {
  it('a 2-peer run computes every gradient through the emulators and ends with the parameters of a local-pool run', async () => {
    const rie = await stackOf(true);
    let viaLambda: Float32Array[];
    try {
      viaLambda = await trainedParams(rie, 'lambda-rie');
      // The gradients were written by the `functions` user the envelope carried, never denied anything.
      const redis = await connectRedis(rie.ownerEndpoint('p1'));
      try {
        const users = (await redis.call('ACL', 'USERS')) as string[];
        expect(users).toContain('functions');
        const log = (await redis.call('ACL', 'LOG')) as string[][];
        expect(log.filter((entry) => entry[entry.indexOf('username') + 1] === 'functions')).toEqual([]);
      } finally {
        redis.disconnect();
      }
    } finally {
      await rie.stop();
    }
    const pool = await stackOf(false);
    let viaPool: Float32Array[];
    try {
      viaPool = await trainedParams(pool, 'lambda-pool');
    } finally {
      await pool.stop();
    }
    expect(viaLambda[0].length).toBeGreaterThan(1000);
    expect(Buffer.from(viaLambda[0].buffer).equals(Buffer.from(viaLambda[1].buffer))).toBe(true);
    expect(Buffer.from(viaLambda[0].buffer).equals(Buffer.from(viaPool[0].buffer))).toBe(true);
  });

  it("a function refuses a call for another peer, and a credential sealed for another peer's context", async () => {
    const p1 = endpoints.get('p1/evaluate')!;
    const invoke = async (payload: unknown) =>
      (await await fetch(`${p1}/2015-03-31/functions/function/invocations`, {
        method: 'POST',
        body: JSON.stringify(payload),
      }).then((r) => r.json())) as { errorType?: string; errorMessage?: string };
    const kms = new AwsKms({ keyId: keyIds.get('p1')!, endpoint: moto.endpoint, ...motoClientConfig });
    const sealed = async (peer: string) =>
      (
        await kms.encrypt(
          Buffer.from(JSON.stringify({ v: 1, username: 'functions', password: 'x' })),
          functionCredentialContext(peer),
        )
      ).toString('base64');
    const redis = { host: '127.0.0.1', port: 1 };
    const other = await invoke({
      v: 1,
      peer: 'p2',
      redis: { ...redis, credential: await sealed('p2') },
      request: { run: 'x' },
    });
    expect(other.errorType).toBe('SecurityError');
    expect(other.errorMessage).toMatch(/serves peer p1, not p2/);
    // Sealed under p1's key but for p2's context: the KMS refuses it.
    const wrong = await invoke({
      v: 1,
      peer: 'p1',
      redis: { ...redis, credential: await sealed('p2') },
      request: { run: 'x' },
    });
    expect(wrong.errorType).toBe('SecurityError');
    expect(await invoke({ hello: 1 })).toMatchObject({ errorType: 'SecurityError' });
    await kms.close();
  });

  it('the Lambda zip (esbuild bundles, Linux x64 onnxruntime only) fits Lambda and its bootstrap serves calls behind the emulator', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spirt-lambda-zip-'));
    dirs.push(dir);
    const out = join(dir, 'lambda');
    const packaged = spawnSync(
      process.execPath,
      [join(__dirname, '..', '..', 'scripts', 'package-lambda.js'), '--out', out, '--no-zip'],
      {
        encoding: 'utf8',
      },
    );
    expect(packaged.status).toBe(0);
    const unzipped = Number(/([\d.]+) MB unzipped/.exec(packaged.stdout)?.[1]);
    expect(unzipped).toBeGreaterThan(10);
    expect(unzipped).toBeLessThan(250);
    const endpoint = await startEmulator('p1', 'evaluate', join(out, 'bootstrap.js'));
    const reply = (await (
      await fetch(`${endpoint}/2015-03-31/functions/function/invocations`, { method: 'POST', body: '{"v":1}' })
    ).json()) as { errorType?: string; errorMessage?: string };
    expect(reply).toMatchObject({ errorType: 'SecurityError', errorMessage: expect.stringMatching(/envelope/) });
  });
});
