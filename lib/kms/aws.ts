import {
  DecryptCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  KMSClient,
  type KMSClientConfig,
} from '@aws-sdk/client-kms';
import { SecurityError, type SecurityReason } from '../errors/security-error';
import { contextAad } from './context';
import { KMS_MAX_PLAINTEXT, type DataKey, type EncryptionContext, type Kms } from './types';

export interface AwsKmsOptions {
  /** Key id, ARN or alias (`alias/spirt-p1`) of a symmetric encryption KMS key. */
  keyId: string;
  /** @default the SDK's (AWS_REGION) */
  region?: string;
  /** Endpoint override: a VPC endpoint, or moto in tests. */
  endpoint?: string;
  /** @default the SDK's default provider chain */
  credentials?: KMSClientConfig['credentials'];
  /** A preconfigured client (tests). @default new KMSClient({ region, endpoint, credentials }) */
  client?: Pick<KMSClient, 'send' | 'destroy'>;
}

/**
 * AWS KMS through `@aws-sdk/client-kms`: Encrypt, Decrypt (with the key id, so a blob of another key is
 * refused) and GenerateDataKey (AES_256), each with the encryption context. AWS errors become
 * SecurityErrors that name the operation and the likely cause, not AWS's raw text.
 */
export class AwsKms implements Kms {
  readonly kind = 'aws' as const;
  readonly keyId: string;
  private readonly client: Pick<KMSClient, 'send' | 'destroy'>;

  constructor(opts: AwsKmsOptions) {
    if (!opts.keyId) throw new SecurityError('kms-key', 'AWS KMS needs a key id (--kms-key-id or kms.keyId)');
    this.keyId = opts.keyId;
    // Only the settings given: an explicit `credentials: undefined` would switch off the SDK's default chain
    // (environment, profile, instance or function role).
    this.client =
      opts.client ??
      new KMSClient({
        ...(opts.region ? { region: opts.region } : {}),
        ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
        ...(opts.credentials ? { credentials: opts.credentials } : {}),
      });
  }

  async encrypt(plaintext: Buffer, context: EncryptionContext): Promise<Buffer> {
    contextAad(context);
    if (plaintext.length > KMS_MAX_PLAINTEXT) {
      throw new SecurityError('malformed', `KMS encrypt takes at most ${KMS_MAX_PLAINTEXT} bytes (use a data key)`);
    }
    const out = await this.call('Encrypt', () =>
      this.client.send(new EncryptCommand({ KeyId: this.keyId, Plaintext: plaintext, EncryptionContext: context })),
    );
    if (!out.CiphertextBlob) throw new SecurityError('kms-error', 'AWS KMS Encrypt returned no ciphertext');
    return Buffer.from(out.CiphertextBlob);
  }

  async decrypt(blob: Buffer, context: EncryptionContext): Promise<Buffer> {
    contextAad(context);
    const out = await this.call('Decrypt', () =>
      this.client.send(new DecryptCommand({ KeyId: this.keyId, CiphertextBlob: blob, EncryptionContext: context })),
    );
    if (!out.Plaintext) throw new SecurityError('kms-error', 'AWS KMS Decrypt returned no plaintext');
    return Buffer.from(out.Plaintext);
  }

  async generateDataKey(context: EncryptionContext): Promise<DataKey> {
    contextAad(context);
    const out = await this.call('GenerateDataKey', () =>
      this.client.send(
        new GenerateDataKeyCommand({ KeyId: this.keyId, KeySpec: 'AES_256', EncryptionContext: context }),
      ),
    );
    if (!out.Plaintext || !out.CiphertextBlob)
      throw new SecurityError('kms-error', 'AWS KMS GenerateDataKey returned no key');
    return { plaintext: Buffer.from(out.Plaintext), ciphertext: Buffer.from(out.CiphertextBlob) };
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  private async call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw awsKmsError(operation, this.keyId, err);
    }
  }
}

/** Maps an AWS SDK error to a SecurityError. Only the error's name and our own words reach the message. */
export function awsKmsError(operation: string, keyId: string, err: unknown): SecurityError {
  const e = err as { name?: string; code?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  const name = e?.name ?? 'Error';
  // Node's socket errors carry `code`; the SDK may wrap one (e.g. across realms), keeping it in the message.
  const code =
    e?.code ??
    /\b(ECONNREFUSED|ENOTFOUND|ECONNRESET|ETIMEDOUT|EAI_AGAIN)\b/.exec(String((err as Error)?.message))?.[1] ??
    '';
  const [reason, why]: [SecurityReason, string] = (() => {
    switch (name) {
      case 'InvalidCiphertextException':
        return ['decrypt-failed', 'the ciphertext was tampered with, or the encryption context differs'];
      case 'IncorrectKeyException':
        return ['wrong-key', `the ciphertext was not made with key ${keyId}`];
      case 'NotFoundException':
      case 'InvalidArnException':
        return ['kms-key', `key ${keyId} does not exist in this account and region`];
      case 'DisabledException':
      case 'KMSInvalidStateException':
      case 'KeyUnavailableException':
        return ['kms-key', `key ${keyId} is disabled, pending deletion or unavailable`];
      case 'InvalidKeyUsageException':
        return ['kms-key', `key ${keyId} is not a symmetric ENCRYPT_DECRYPT key`];
      case 'AccessDeniedException':
      case 'UnrecognizedClientException':
      case 'InvalidSignatureException':
      case 'ExpiredTokenException':
        return ['kms-denied', `access denied (${name}): check the credentials and the key policy for kms:${operation}`];
      case 'CredentialsProviderError':
        return ['kms-denied', 'no AWS credentials found (environment, profile or instance role)'];
      case 'TimeoutError':
        return ['kms-unavailable', 'the request timed out'];
      default:
        if (['ECONNREFUSED', 'ENOTFOUND', 'ECONNRESET', 'ETIMEDOUT', 'EAI_AGAIN'].includes(code)) {
          return ['kms-unavailable', `cannot reach the KMS endpoint (${code})`];
        }
        return ['kms-error', `${name}${e?.$metadata?.httpStatusCode ? ` (HTTP ${e.$metadata.httpStatusCode})` : ''}`];
    }
  })();
  return new SecurityError(reason, `AWS KMS ${operation} failed: ${why}`);
}
