// `spirt keys generate`: a peer's key pairs, the private keys sealed by a local KMS master key.
import type { Command } from 'commander';
import { say } from './common';

interface GenerateOptions {
  peer: string;
  out: string;
  suite?: string;
  force?: boolean;
  ifMissing?: boolean;
  kms?: string;
  kmsKeyId?: string;
  kmsEndpoint?: string;
  region?: string;
}

/** Files `spirt keys generate` writes (the sealed keys and master key use lib/peer/identity.ts's names). */
export const KEY_FILES = { pubkeys: 'pubkeys.json', sealed: 'keys.sealed.json', master: 'master.key' };

export function registerKeys(program: Command): void {
  const keys = program.command('keys').description("a peer's key pairs");
  keys
    .command('generate')
    .description(
      `generate a peer's signing and encryption key pairs into a folder (0700): ${KEY_FILES.pubkeys} (public keys, for 'spirt admin enrol'), ${KEY_FILES.sealed} (private keys sealed by the local KMS, or by AWS KMS with --kms aws) and, with the local KMS, ${KEY_FILES.master} (its master key, 0600)`,
    )
    .requiredOption('--peer <id>', 'peer id, e.g. p5')
    .requiredOption('--out <dir>', 'folder to write the keys to')
    .option('--suite <suite>', 'modern (Ed25519 + X25519) or rsa (RSA-PSS + RSA-OAEP, 3072 bits)', 'modern')
    .option('--force', 'replace keys already in the folder (an enrolment of the old keys stops matching)')
    .option(
      '--if-missing',
      'do nothing (exit 0) when the folder already holds keys: for a host that runs it at every boot',
    )
    .option(
      '--kms <kind>',
      'seal the private keys under local (a master key file in the folder) or aws (AWS KMS: no master key file)',
      'local',
    )
    .option('--kms-key-id <id>', 'with --kms aws: key id, ARN or alias (default $SPIRT_KMS_KEY_ID)')
    .option('--kms-endpoint <url>', 'with --kms aws: endpoint override (default $SPIRT_KMS_ENDPOINT)')
    .option('--region <region>', 'with --kms aws: AWS region (default $AWS_REGION)')
    .action((options: GenerateOptions) => generate(options));
}

async function generate(options: GenerateOptions): Promise<void> {
  const { chmodSync, existsSync, mkdirSync, writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { generatePeerKeys, keyFingerprint, KEY_SUITES } = await import('../../lib/crypto/keys');
  const { sealPrivateKeys } = await import('../../lib/crypto/key-store');
  const { publicKeysFile } = await import('../../lib/crypto/public-keys');
  const { LocalKms } = await import('../../lib/kms/local');
  const { AwsKms } = await import('../../lib/kms/aws');
  const { ConfigError } = await import('../../lib/errors/config-error');
  const suite = options.suite ?? 'modern';
  if (!(KEY_SUITES as readonly string[]).includes(suite)) {
    throw new ConfigError(`--suite "${suite}": use ${KEY_SUITES.join(' or ')}`);
  }
  const dir = options.out;
  const paths = {
    pubkeys: join(dir, KEY_FILES.pubkeys),
    sealed: join(dir, KEY_FILES.sealed),
    master: join(dir, KEY_FILES.master),
  };
  if (!options.force && (existsSync(paths.sealed) || existsSync(paths.pubkeys))) {
    if (options.ifMissing) {
      say(`${dir} already holds keys; left as they are`);
      return;
    }
    throw new ConfigError(`${dir} already holds keys; pass --force to replace them`);
  }
  const kmsKind = options.kms ?? 'local';
  if (kmsKind !== 'local' && kmsKind !== 'aws') throw new ConfigError(`--kms "${kmsKind}": use local or aws`);
  const keyId = options.kmsKeyId ?? process.env.SPIRT_KMS_KEY_ID;
  if (kmsKind === 'aws' && !keyId) throw new ConfigError('--kms aws needs --kms-key-id (or $SPIRT_KMS_KEY_ID)');
  // Public first: pubkeys.json carries the peer id too, so a bad id fails before any file is written.
  const keys = generatePeerKeys(suite as 'modern' | 'rsa');
  const pubkeys = publicKeysFile(options.peer, keys);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const endpoint = options.kmsEndpoint ?? process.env.SPIRT_KMS_ENDPOINT;
  const region = options.region ?? process.env.AWS_REGION;
  const kms =
    kmsKind === 'aws'
      ? new AwsKms({ keyId: keyId!, ...(region ? { region } : {}), ...(endpoint ? { endpoint } : {}) })
      : new LocalKms(paths.master);
  try {
    // The same encryption context as the peer identity (lib/peer/identity.ts), so a worker can open them.
    const sealed = await sealPrivateKeys(kms, keys, { peer: options.peer, purpose: 'peer-keys' });
    writeFileSync(paths.sealed, JSON.stringify(sealed, null, 2) + '\n', { mode: 0o600 });
    chmodSync(paths.sealed, 0o600);
    writeFileSync(paths.pubkeys, JSON.stringify(pubkeys, null, 2) + '\n', { mode: 0o600 });
    chmodSync(paths.pubkeys, 0o600);
  } finally {
    await kms.close();
  }
  say(
    `generated ${suite} keys for ${options.peer} in ${dir} (sealed under ${kmsKind === 'aws' ? `AWS KMS key ${keyId}` : 'the local master key'})`,
  );
  say(`signing key fingerprint: ${keyFingerprint(keys.signing.publicKey)}`);
  say(
    `give ${paths.pubkeys} to the administrator: spirt admin enrol --peer ${options.peer} --pubkeys FILE --expires 24h`,
  );
}
