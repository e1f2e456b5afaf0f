// `spirt admin init|enrol|revoke|network`: the administrator key, enrolment tokens, the revocation list, the
// network file of peers on separate hosts.
// The key lives in <state dir>/admin (0700): its private half only sealed by a local KMS master key.
import type { Command } from 'commander';
import { join } from 'node:path';
import { defaultStateDir } from '../../lib/stack/paths';
import { say } from './common';

interface AdminOptions {
  dir?: string;
  stateDir?: string;
}
type InitOptions = AdminOptions & { force?: boolean };
type EnrolOptions = AdminOptions & { peer: string; pubkeys: string; expires: string; network?: string };
type RevokeOptions = AdminOptions & { peer: string; apply?: boolean; address?: string; namespace?: string };

/** The revocation list in the administrator folder: signed JSON lines (lib/crypto/revocation.ts). */
export const REVOCATION_FILE = 'revoked.jsonl';

function addDirOptions(command: Command): Command {
  return command
    .option('--dir <dir>', 'administrator folder (default <state dir>/admin)')
    .option('--state-dir <dir>', 'state dir (default $SPIRT_STATE_DIR or ~/.local/state/spirt)');
}

function adminDir(options: AdminOptions): string {
  return options.dir ?? join(options.stateDir ?? defaultStateDir(), 'admin');
}

export function registerAdmin(program: Command): void {
  const admin = program
    .command('admin')
    .description('the administrator key: create it, enrol peers with signed tokens, revoke peers');
  addDirOptions(
    admin
      .command('init')
      .description(
        'create the administrator key pair (Ed25519) in the administrator folder (0700): the private key sealed by a local master key (0600); prints the public key fingerprint',
      )
      .option('--force', 'replace an existing administrator key (tokens and revocations it signed stop verifying)'),
  ).action((options: InitOptions) => init(options));
  addDirOptions(
    admin
      .command('enrol')
      .description(
        "issue an enrolment token binding a peer id, its public keys (its pubkeys.json from 'spirt keys generate'), a network and an expiry; prints the token alone on stdout",
      )
      .requiredOption('--peer <id>', 'peer id, e.g. p5')
      .requiredOption('--pubkeys <file>', "the peer's pubkeys.json")
      .requiredOption('--expires <when>', 'a duration (30m, 24h, 7d) or an ISO date-time with a zone')
      .option(
        '--network <name>',
        'network the token admits the peer to (default: the network of the stack in the state dir)',
      ),
  ).action((options: EnrolOptions) => enrol(options));
  addDirOptions(
    admin
      .command('revoke')
      .description(
        `revoke a peer: appends a signed line to ${REVOCATION_FILE} in the administrator folder; its tokens issued until now are refused`,
      )
      .requiredOption('--peer <id>', 'peer id, e.g. p2')
      .option(
        '--apply',
        "also apply it now on every other peer of the stack's network (workflow revokePeerWorkflow on each peer's task queue): they refuse the peer's tokens and delete its database user",
      )
      .option('--address <host:port>', "with --apply: Temporal frontend address (default the stack's)")
      .option('--namespace <ns>', 'with --apply: Temporal namespace'),
  ).action((options: RevokeOptions) => revoke(options));
  const net = admin
    .command('network')
    .description('the network file of peers on separate hosts: public endpoints, enrolments, the Temporal target');
  addDirOptions(
    net
      .command('init')
      .description('write a new network file (no peers yet) signed off by the administrator key')
      .requiredOption('--out <file>', 'the network file to write')
      .requiredOption('--name <network>', 'network name (tokens and signed messages are bound to it)')
      .requiredOption('--temporal <host:port>', 'Temporal frontend every peer connects to')
      .option('--namespace <ns>', 'Temporal namespace', 'default')
      .option(
        '--sqs-region <region>',
        "the peers' messages go through their SQS queues in this region (each peer's queue URLs: add-peer --queues)",
      )
      .option('--sqs-endpoint <url>', 'SQS endpoint override (a VPC endpoint; moto in tests)')
      .option('--force', 'replace an existing file'),
  ).action((options: NetworkInitOptions) => networkInit(options));
  addDirOptions(
    net
      .command('add-peer')
      .description(
        'enrol a peer and add it to a network file: its public Redis endpoint, its task queue, a fresh public inbox password (replaces a peer of the same id, keeping its rank and inbox)',
      )
      .requiredOption('--file <file>', 'the network file')
      .requiredOption('--pubkeys <file>', "the peer's pubkeys.json (spirt keys generate)")
      .requiredOption('--redis <host:port>', "the peer's Redis as the other peers reach it")
      .option('--tls-ca <file>', "CA certificate (PEM) of the peer's Redis when it serves TLS")
      .option('--expires <when>', 'enrolment validity', '30d')
      .option('--standby', 'not a founder: it joins later with spirt peer add')
      .option(
        '--queues <urls>',
        "the peer's SQS queue URLs (a network with --sqs-region): sync=URL,join-requests=URL,credentials=URL",
      ),
  ).action((options: NetworkAddOptions) => networkAddPeer(options));
}

type NetworkInitOptions = AdminOptions & {
  out: string;
  name: string;
  temporal: string;
  namespace: string;
  sqsRegion?: string;
  sqsEndpoint?: string;
  force?: boolean;
};
type NetworkAddOptions = AdminOptions & {
  file: string;
  pubkeys: string;
  redis: string;
  tlsCa?: string;
  expires: string;
  standby?: boolean;
  queues?: string;
};

async function loadAdmin(options: AdminOptions) {
  const { loadAdminKey } = await import('../../lib/peer/admin');
  const { ConfigError } = await import('../../lib/errors/config-error');
  const dir = adminDir(options);
  return loadAdminKey(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') throw new ConfigError(`no administrator key in ${dir}; create it with spirt admin init`);
    throw err;
  });
}

async function networkInit(options: NetworkInitOptions): Promise<void> {
  const { existsSync } = await import('node:fs');
  const { newNetworkFile } = await import('../../lib/peer/network-admin');
  const { ConfigError } = await import('../../lib/errors/config-error');
  if (existsSync(options.out) && !options.force)
    throw new ConfigError(`${options.out} exists; pass --force to replace it`);
  const admin = await loadAdmin(options);
  if (options.sqsEndpoint && !options.sqsRegion) throw new ConfigError('--sqs-endpoint needs --sqs-region');
  const network = newNetworkFile(
    options.name,
    admin.publicKey,
    { address: options.temporal, namespace: options.namespace },
    options.sqsRegion
      ? { region: options.sqsRegion, ...(options.sqsEndpoint ? { endpoint: options.sqsEndpoint } : {}) }
      : undefined,
  );
  (await import('../../lib/peer/network-file')).writeNetworkFileAt(options.out, network);
  say(
    `wrote network ${network.network} to ${options.out} (Temporal ${options.temporal}, namespace ${options.namespace}${options.sqsRegion ? `; messages through SQS in ${options.sqsRegion}` : ''})`,
  );
}

async function networkAddPeer(options: NetworkAddOptions): Promise<void> {
  const { readFileSync } = await import('node:fs');
  const { readNetworkFileAt } = await import('../../lib/peer/network-file');
  const { addNetworkPeer, parseQueueUrls } = await import('../../lib/peer/network-admin');
  const { checkPublicKeysFile } = await import('../../lib/crypto/public-keys');
  const { ConfigError } = await import('../../lib/errors/config-error');
  const network = readNetworkFileAt(options.file);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(options.pubkeys, 'utf8'));
  } catch (err) {
    throw new ConfigError(`--pubkeys ${options.pubkeys}: ${(err as Error).message}`);
  }
  const admin = await loadAdmin(options);
  const next = addNetworkPeer(network, admin, {
    pubkeys: checkPublicKeysFile(parsed),
    redis: options.redis,
    ...(options.tlsCa ? { tlsCa: readFileSync(options.tlsCa, 'utf8') } : {}),
    expires: options.expires,
    standby: options.standby === true,
    ...(options.queues ? { queues: parseQueueUrls(options.queues) } : {}),
  });
  (await import('../../lib/peer/network-file')).writeNetworkFileAt(options.file, next);
  const peer = next.peers.find((p) => p.redis.host + ':' + p.redis.port === options.redis)!;
  say(`added ${peer.id} (rank ${peer.rank}, task queue ${peer.taskQueue}, Redis ${options.redis}) to ${options.file}`);
}

async function init(options: InitOptions): Promise<void> {
  const { existsSync, readdirSync, renameSync } = await import('node:fs');
  const { createAdminKey } = await import('../../lib/peer/admin');
  const { keyFingerprint } = await import('../../lib/crypto/keys');
  const { ConfigError } = await import('../../lib/errors/config-error');
  const dir = adminDir(options);
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    if (!options.force) {
      throw new ConfigError(`${dir} already holds an administrator key; pass --force to replace it`);
    }
    const list = join(dir, REVOCATION_FILE);
    // The old list is signed by the old key and would no longer verify; kept aside for the record.
    if (existsSync(list)) renameSync(list, `${list}.replaced-${Date.now()}`);
  }
  const keys = await createAdminKey(dir);
  say(`administrator key created in ${dir}`);
  say(`fingerprint: ${keyFingerprint(keys.publicKey)}`);
}

async function enrol(options: EnrolOptions): Promise<void> {
  const { readFileSync, existsSync } = await import('node:fs');
  const { checkPublicKeysFile } = await import('../../lib/crypto/public-keys');
  const { issueEnrolment } = await import('../../lib/crypto/enrolment');
  const { parseExpiry } = await import('../../lib/crypto/expiry');
  const { ConfigError } = await import('../../lib/errors/config-error');
  // One clock reading: a token asked to last 24h lasts exactly 24h from its issuedAt.
  const issuedAt = new Date();
  const expiresAt = parseExpiry(options.expires, issuedAt);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(options.pubkeys, 'utf8'));
  } catch (err) {
    throw new ConfigError(`--pubkeys ${options.pubkeys}: ${(err as Error).message}`);
  }
  const pubkeys = checkPublicKeysFile(parsed);
  if (pubkeys.peer !== options.peer) {
    throw new ConfigError(`--pubkeys ${options.pubkeys} is for peer ${pubkeys.peer}, not ${options.peer}`);
  }
  let network = options.network;
  if (!network) {
    const { networkFilePath, readNetworkFile } = await import('../../lib/peer/network-file');
    const stateDir = options.stateDir ?? defaultStateDir();
    if (!existsSync(networkFilePath(stateDir))) {
      throw new ConfigError(`--network is required: there is no network file in ${stateDir}`);
    }
    network = readNetworkFile(stateDir).network;
  }
  const admin = await loadAdmin(options);
  const token = issueEnrolment(admin.privateKey, {
    network,
    peer: pubkeys.peer,
    suite: pubkeys.suite,
    signingKey: pubkeys.signingKey,
    encryptionKey: pubkeys.encryptionKey,
    issuedAt,
    expiresAt,
  });
  process.stderr.write(
    `enrolled ${pubkeys.peer} (signing key ${pubkeys.fingerprint}) in network ${network} until ${expiresAt.toISOString()}\n`,
  );
  say(token);
}

async function revoke(options: RevokeOptions): Promise<void> {
  const { appendRevocation, signRevocation } = await import('../../lib/crypto/revocation');
  const admin = await loadAdmin(options);
  const revocation = signRevocation(admin.privateKey, options.peer);
  const list = join(adminDir(options), REVOCATION_FILE);
  appendRevocation(list, revocation);
  say(`revoked ${options.peer} at ${revocation.revokedAt}: its tokens issued until now are refused (${list})`);
  if (options.apply) await applyRevocation(options, revocation);
}

async function applyRevocation(
  options: RevokeOptions,
  revocation: import('../../lib/crypto/revocation').Revocation,
): Promise<void> {
  const { readNetworkFile } = await import('../../lib/peer/network-file');
  const { withTemporal } = await import('./temporal-session');
  const network = readNetworkFile(options.stateDir ?? defaultStateDir());
  await withTemporal(options, async ({ client }) => {
    const others = network.peers.filter((p) => p.id !== revocation.peer);
    const outcomes = await Promise.allSettled(
      others.map((p) =>
        client.workflow.execute('revokePeerWorkflow', {
          args: [{ revocation }],
          taskQueue: p.taskQueue,
          workflowId: `spirt-revoke-${revocation.peer}-on-${p.id}-${Date.parse(revocation.revokedAt)}`,
          workflowExecutionTimeout: '1 minute',
        }),
      ),
    );
    outcomes.forEach((o, i) =>
      say(
        o.status === 'fulfilled'
          ? `applied on ${others[i].id}`
          : `not applied on ${others[i].id}: ${(o.reason as Error).message}`,
      ),
    );
    if (outcomes.some((o) => o.status === 'rejected')) process.exitCode = 1;
  });
}
