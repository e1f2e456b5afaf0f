// `spirt peer start`: one peer on this host. `spirt peer remove|add ID`: change a running run's active set.
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../../lib/errors/config-error';
import { addTemporalOptions, say, type TemporalOptions } from './common';

type PeerOptions = TemporalOptions & { run?: string; taskQueue?: string; enrolment?: string; network?: string };

export function registerPeer(program: Command): void {
  const peer = program
    .command('peer')
    .description('start one peer on this host; remove a peer from a running run, or admit one');
  peer
    .command('start')
    .description(
      "start one peer on this host: its redis-server (bound to --bind, with the spirt module) and its worker (connected to the network file's Temporal, or --temporal-address), then greet the other founding peers with the signed initialisation handshake. Runs until Ctrl-C / SIGTERM; exits 1 when its Redis or worker dies",
    )
    .option('--config <file>', 'a peer config file (lib/stack/peer-config.ts); the flags below write one instead')
    .option('--peer <id>', 'this peer (listed in the network file)')
    .option('--network-file <file>', 'the network file (spirt admin network)')
    .option(
      '--state-dir <dir>',
      "this peer's own state: identity/ (spirt keys generate --out <dir>/identity), Redis data, log",
    )
    .option('--bind <address>', "address this peer's Redis listens on (default: its host in the network file)")
    .option('--functions <n>', 'functions running at once on this host (default 2)')
    .option('--temporal-address <host:port>', "Temporal frontend (default: the network file's)")
    .option('--namespace <ns>', "Temporal namespace (default: the network file's)")
    .option('--tls-cert <file>', 'serve Redis over TLS only: server certificate (PEM)')
    .option('--tls-key <file>', 'its private key')
    .option('--tls-ca <file>', 'the CA certificate clients trust')
    .option('--no-aof', 'no Redis append-only file (a restart loses the peer state)')
    .option('--no-init', 'do not run the initialisation handshake (a standby peer joins later with spirt peer add)')
    .option('--init-timeout <ms>', 'how long the handshake waits for the other peers (default 90000)')
    .action((options: StartOptions) => startPeer(options));
  addTemporalOptions(
    peer
      .command('remove')
      .description(
        "signal 'removePeer' to every running peer workflow of the run (the removed one too): it leaves the active set at the next agreement",
      )
      .argument('<id>', 'peer id, e.g. p2')
      .option('--run <id>', 'run id (default the run started last)'),
  ).action((id: string, options: PeerOptions) => signalPeer('remove', id, options));
  addTemporalOptions(
    peer
      .command('add')
      .description(
        "join a peer to a running run: start its workflow with join:true (it waits to be admitted), run the signed join handshake with every active peer (workflow joinHandshakeWorkflow on the peer's task queue), which then signals 'addPeer' to their workflows: they admit it at the next epoch boundary with the current model",
      )
      .argument('<id>', 'peer id: a removed peer coming back, or a new peer with an enrolment token')
      .option('--run <id>', 'run id (default the run started last)')
      .option(
        '--enrolment <token>',
        "the peer's enrolment token (from spirt admin enrol), or @FILE (default: the network file's)",
      )
      .option('--network <name>', "network name (default: the stack's network file)")
      .option('--task-queue <name>', "the peer worker's task queue (default: the stack's)"),
  ).action((id: string, options: PeerOptions) => signalPeer('add', id, options));
}

async function signalPeer(change: 'remove' | 'add', id: string, options: PeerOptions): Promise<void> {
  const { resolveRun, withTemporal } = await import('./temporal-session');
  const { removePeer } = await import('../../lib/train/control');
  const { signalReportLine } = await import('../../lib/train/status-lines');
  await withTemporal(options, async (session) => {
    const run = await resolveRun(session, options.run);
    if (change === 'remove') {
      const report = await removePeer(session.client, run, id, session);
      say(signalReportLine('removePeer', { peer: id, reason: 'removed by operator' }, report));
    } else {
      const { joinRun } = await import('../../lib/train/join');
      const taskQueue = options.taskQueue ?? session.taskQueues[id];
      if (!taskQueue) throw new ConfigError(`peer ${id}: no task queue known; pass --task-queue`);
      const network = options.network ?? (await stackNetwork(options));
      const enrolment = options.enrolment?.startsWith('@')
        ? readFileSync(options.enrolment.slice(1), 'utf8').trim()
        : options.enrolment;
      const outcome = await joinRun(session.client, run, id, {
        ...session,
        network,
        taskQueue,
        ...(enrolment ? { enrolment } : {}),
      });
      say(
        `${id} joined network ${network} in ${outcome.handshakeMs} ms: trusted by ${outcome.handshake.trusted.join(', ')}; ${outcome.workflowId} waits to be admitted at the next epoch boundary`,
      );
    }
  });
}

async function stackNetwork(options: PeerOptions): Promise<string> {
  const { readNetworkFile } = await import('../../lib/peer/network-file');
  const { defaultStateDir } = await import('../../lib/stack/paths');
  return readNetworkFile(options.stateDir ?? defaultStateDir()).network;
}

interface StartOptions {
  config?: string;
  peer?: string;
  networkFile?: string;
  stateDir?: string;
  bind?: string;
  functions?: string;
  temporalAddress?: string;
  namespace?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  aof: boolean;
  init: boolean;
  initTimeout?: string;
}

async function startPeer(options: StartOptions): Promise<void> {
  const { join, resolve } = await import('node:path');
  const { mkdirSync } = await import('node:fs');
  const { writePeerConfig } = await import('../../lib/stack/peer-config');
  const { startPeerHost } = await import('../../lib/stack/peer-host');
  const { intFlag, untilStopped } = await import('./common');
  let configPath = options.config;
  if (!configPath) {
    if (!options.peer || !options.networkFile || !options.stateDir)
      throw new ConfigError('spirt peer start needs --config, or --peer, --network-file and --state-dir');
    const tls = [options.tlsCert, options.tlsKey, options.tlsCa];
    if (tls.some(Boolean) && !tls.every(Boolean))
      throw new ConfigError('--tls-cert, --tls-key and --tls-ca go together');
    const dir = resolve(options.stateDir);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    configPath = join(dir, 'peer.json');
    writePeerConfig(configPath, {
      v: 1,
      peer: options.peer,
      networkFile: resolve(options.networkFile),
      dir,
      ...(options.bind ? { bind: options.bind } : {}),
      functions: intFlag(options.functions, 'functions', 2),
      ...(options.temporalAddress
        ? { temporal: { address: options.temporalAddress, namespace: options.namespace ?? 'default' } }
        : {}),
      ...(options.tlsCert
        ? {
            tls: {
              certFile: resolve(options.tlsCert),
              keyFile: resolve(options.tlsKey!),
              caFile: resolve(options.tlsCa!),
            },
          }
        : {}),
      ...(options.aof === false ? { appendOnly: false } : {}),
    });
  }
  const host = await startPeerHost({
    configPath,
    ...(options.init === false ? { init: false } : {}),
    initTimeoutMs: intFlag(options.initTimeout, 'init-timeout', 90_000),
    onProgress: say,
  });
  say(`peer ${host.config.peer} is up; press Ctrl-C to stop it`);
  try {
    await untilStopped(host);
  } finally {
    say(`stopping peer ${host.config.peer} ...`);
    await host.stop();
    say('stopped');
  }
}
