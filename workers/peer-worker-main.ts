// Process entry of one peer's worker, started by `spirt up`: `node peer-worker-main.js <state-dir> <peer-id> <functions>`.
// Its stdout and stderr go to `<state dir>/logs/<peer>.log`, one JSON object per line.
import { DefaultLogger, makeTelemetryFilterString, NativeConnection, Runtime } from '@temporalio/worker';
import { openSealed } from '../lib/crypto';
import { loadPeerIdentity } from '../lib/peer/identity';
import { networkPeer, readNetworkFile } from '../lib/peer/network-file';
import { credentialAad, type PeerSecurity } from '../lib/peer/security';
import { readTrustedPeer } from '../lib/peer/trust';
import { PeerDirectory } from '../lib/redis/peer-directory';
import { temporalSecurityFromEnv } from '../lib/train/temporal-tls';
import { lambdaInvokerFromEnv } from '../lib/invoker/lambda';
import { LocalPoolInvoker } from '../lib/invoker/local-pool';
import { logger } from '../lib/log';
import { readStackFile } from '../lib/stack/stack-file';
import { createPeerWorker } from './peer-worker';

const pinoLevels = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' } as const;

async function main(): Promise<void> {
  const [stateDir, peerId, functions] = process.argv.slice(2);
  const stack = readStackFile(stateDir);
  const self = stack.peers.find((p) => p.id === peerId);
  if (!self) throw new Error(`peer ${peerId} is not in the stack`);
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
  const network = readNetworkFile(stateDir);
  const identity = await loadPeerIdentity(self.identityDir, peerId);
  const listed = networkPeer(network, peerId);
  const security: PeerSecurity = { network, enrolment: listed.enrolment, keys: identity.keys, maxSkewMs: 60_000 };
  const ownEndpoint = {
    host: self.host,
    port: self.port,
    password: identity.ownerPassword,
    ...(self.tls ? { tls: self.tls } : {}),
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
  const invoker =
    lambdaInvokerFromEnv() ?? new LocalPoolInvoker({ redis: ownEndpoint, concurrency: Number(functions) || 2 });
  const connection = await NativeConnection.connect({ address: stack.temporal.address, ...temporalSecurityFromEnv() });
  const worker = await createPeerWorker({
    connection,
    taskQueue: self.taskQueue,
    peerId,
    directory,
    invoker,
    security,
    workflowBundlePath: stack.workflowBundle,
  });
  const stop = () => worker.shutdown();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  // The parent (spirt up) holds an IPC channel: when it goes away, so does this worker.
  process.once('disconnect', stop);
  process.send?.({ type: 'ready', peerId });
  await worker.run();
  await invoker.close();
  await directory.close();
  await connection.close();
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    logger.error({ err: { name: err.name, message: err.message } }, 'peer worker failed');
    process.exit(1);
  },
);
