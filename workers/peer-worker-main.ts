// Process entry of one peer's worker, forked by `spirt peer start` or `spirt up`: `node peer-worker-main.js
// <peer config>` (lib/stack/peer-config.ts). Its stdout and stderr go to the peer's log, one JSON object per line.
import { DefaultLogger, makeTelemetryFilterString, NativeConnection, Runtime } from '@temporalio/worker';
import { openSealed } from '../lib/crypto';
import { loadPeerIdentity } from '../lib/peer/identity';
import { networkPeer, readNetworkFileAt } from '../lib/peer/network-file';
import { credentialAad, type PeerSecurity } from '../lib/peer/security';
import { readTrustedPeer } from '../lib/peer/trust';
import { PeerDirectory } from '../lib/redis/peer-directory';
import { temporalSecurityFromEnv } from '../lib/train/temporal-tls';
import { LambdaInvoker } from '../lib/invoker/lambda';
import { AwsKms } from '../lib/kms/aws';
import { functionCredentialContext } from '../lib/protocol/functions';
import { functionsUser, randomPassword, setFunctionsUser } from '../lib/redis/acl';
import type { RedisEndpoint } from '../lib/redis/connect';
import { LocalPoolInvoker } from '../lib/invoker/local-pool';
import { logger } from '../lib/log';
import {
  checkQueuesEnv,
  lambdaSettingsFromEnv,
  peerIdentityDir,
  readPeerConfig,
  type PeerConfig,
} from '../lib/stack/peer-config';
import { createPeerWorker } from './peer-worker';

const pinoLevels = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' } as const;

async function main(): Promise<void> {
  const config = readPeerConfig(process.argv[2] ?? '');
  const peerId = config.peer;
  // Everything the SDK logs (its own and the Rust core's, forwarded) becomes a JSON line of the worker's log.
  const sdkLog = logger.child({ peer: peerId, component: 'temporal-sdk' });
  Runtime.install({
    logger: new DefaultLogger('WARN', ({ level, message, meta }) => sdkLog[pinoLevels[level]](meta ?? {}, message)),
    shutdownSignals: [],
    telemetryOptions: {
      logging: {
        // The SDK's default (core WARN, other ERROR), except the workflow module's WARN for a status query that
        // expired before the worker answered it: the CLI just asks again, so it is noise in the logs.
        filter: `${makeTelemetryFilterString({ core: 'WARN', other: 'ERROR' })},temporalio_sdk_core::worker::workflow=ERROR`,
        forward: {},
      },
    },
  });
  // This worker knows only its own secrets (opened through its KMS) and what the handshake gave it: other
  // peers' credentials come from its trusted-peer table, sealed to its own encryption key.
  const network = readNetworkFileAt(config.networkFile);
  const identity = await loadPeerIdentity(peerIdentityDir(config), peerId);
  const listed = networkPeer(network, peerId);
  const security: PeerSecurity = { network, enrolment: listed.enrolment, keys: identity.keys, maxSkewMs: 60_000 };
  const ownEndpoint = {
    host: listed.redis.host,
    port: listed.redis.port,
    password: identity.ownerPassword,
    ...(listed.redis.tls ? { tls: listed.redis.tls } : {}),
  };
  const directory: PeerDirectory = new PeerDirectory({ [peerId]: ownEndpoint }, async (other) => {
    const trusted = await readTrustedPeer(await directory.connection(peerId), other);
    if (!trusted?.credential) return null;
    const password = openSealed(
      identity.keys.encryption.privateKey,
      JSON.parse(trusted.credential.sealedPassword),
      credentialAad(network.network, other, peerId),
    ).toString();
    return { ...trusted.redis, username: trusted.credential.username, password };
  });
  const lambda = config.lambda ?? lambdaSettingsFromEnv(process.env);
  const invoker = lambda
    ? await lambdaInvoker(lambda, peerId, ownEndpoint, directory)
    : new LocalPoolInvoker({
        redis: ownEndpoint,
        concurrency: config.functions ?? 2,
        nice: config.functionNice ?? 19,
        idle: config.functionIdle ?? true,
      });
  checkQueuesEnv(process.env, listed);
  const temporal = config.temporal ?? network.temporal;
  const connection = await NativeConnection.connect({ address: temporal.address, ...temporalSecurityFromEnv() });
  const worker = await createPeerWorker({
    connection,
    namespace: temporal.namespace,
    taskQueue: listed.taskQueue,
    peerId,
    directory,
    invoker,
    security,
    ...(config.workflowBundle ? { workflowBundlePath: config.workflowBundle } : {}),
  });
  const stop = () => worker.shutdown();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  // The parent (spirt peer start / spirt up) holds an IPC channel: when it goes away, so does this worker.
  process.once('disconnect', stop);
  process.send?.({ type: 'ready', peerId });
  await worker.run();
  await invoker.close();
  await directory.close();
  await connection.close();
}

/**
 * Functions on AWS Lambda: a fresh `functions` user in this peer's Redis, its credential sealed once under the
 * peer's KMS key (only the peer's function role can open it), sent in every call's envelope.
 */
async function lambdaInvoker(
  lambda: NonNullable<PeerConfig['lambda']>,
  peerId: string,
  own: RedisEndpoint,
  directory: PeerDirectory,
): Promise<LambdaInvoker> {
  const password = randomPassword();
  await setFunctionsUser(await directory.connection(peerId), password);
  const kms = new AwsKms({
    keyId: lambda.kmsKeyId,
    region: lambda.region,
    ...(lambda.kmsEndpoint ? { endpoint: lambda.kmsEndpoint } : {}),
  });
  let credential: string;
  try {
    const plain = Buffer.from(JSON.stringify({ v: 1, username: functionsUser, password }));
    credential = (await kms.encrypt(plain, functionCredentialContext(peerId))).toString('base64');
  } finally {
    await kms.close();
  }
  const redis = {
    host: own.host,
    port: own.port,
    credential,
    ...(own.tls ? { tls: true, ca: own.tls.ca } : {}),
  };
  return new LambdaInvoker({
    region: lambda.region,
    functionNames: lambda.functionNames,
    ...(lambda.endpoint ? { endpoint: lambda.endpoint } : {}),
    envelope: async () => ({ v: 1, peer: peerId, redis }),
  });
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    logger.error({ err: { name: err.name, message: err.message } }, 'peer worker failed');
    process.exit(1);
  },
);
