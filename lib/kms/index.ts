import { existsSync } from 'node:fs';
import { ConfigError } from '../errors/config-error';
import { AwsKms } from './aws';
import { LocalKms } from './local';
import type { Kms, KmsConfig } from './types';

export { type Kms, type KmsConfig, type DataKey, type EncryptionContext, KMS_MAX_PLAINTEXT } from './types';
export { LocalKms, type LocalKmsOptions } from './local';
export { AwsKms, type AwsKmsOptions } from './aws';

/**
 * The KMS a config names: `local` (default) opens the master key file `masterKeyPath` (creating it when
 * `createMasterKey` is set); `aws` uses `keyId` in `region` (or $AWS_REGION), at `endpoint` when given.
 * @throws ConfigError for a missing setting; SecurityError for an unusable master key file
 */
export function kmsFromConfig(config: KmsConfig): Kms {
  const kind = config.kind ?? 'local';
  if (kind === 'local') {
    if (!config.masterKeyPath) throw new ConfigError('local KMS needs masterKeyPath (the master key file)');
    if (config.createMasterKey && !existsSync(config.masterKeyPath)) return LocalKms.create(config.masterKeyPath);
    return LocalKms.open(config.masterKeyPath);
  }
  if (kind === 'aws') {
    if (!config.keyId) throw new ConfigError('AWS KMS needs keyId (a key id, ARN or alias)');
    return new AwsKms({ keyId: config.keyId, region: config.region, endpoint: config.endpoint });
  }
  throw new ConfigError(`KMS kind "${String(kind)}" is not local or aws`);
}
