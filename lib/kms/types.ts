/**
 * Encryption context: non-secret key/value pairs bound to a ciphertext as associated data. Decryption with
 * a different context fails, so a ciphertext cannot be moved to another purpose or peer.
 */
export type EncryptionContext = Record<string, string>;

/** A data key: use `plaintext` once in memory and forget it; store only `ciphertext`. */
export interface DataKey {
  /** 32 bytes (AES-256). */
  plaintext: Buffer;
  /** The data key encrypted by the KMS, under the same context. */
  ciphertext: Buffer;
}

/**
 * A key management service: encrypts small secrets and issues data keys under a master key it never
 * reveals. Local master key file by default, AWS KMS in the cloud.
 */
export interface Kms {
  readonly kind: 'local' | 'aws';
  /** Encrypts at most {@link KMS_MAX_PLAINTEXT} bytes. @throws SecurityError */
  encrypt(plaintext: Buffer, context: EncryptionContext): Promise<Buffer>;
  /** @throws SecurityError('decrypt-failed') for a tampered blob or another context */
  decrypt(blob: Buffer, context: EncryptionContext): Promise<Buffer>;
  /** A fresh AES-256 data key, in clear and encrypted. @throws SecurityError */
  generateDataKey(context: EncryptionContext): Promise<DataKey>;
  close(): Promise<void>;
}

/** Largest plaintext `encrypt` takes: AWS KMS's limit, kept by the local KMS too so both behave alike. */
export const KMS_MAX_PLAINTEXT = 4096;

/** Which KMS a peer or the administrator uses (run config, CLI flags). */
export interface KmsConfig {
  /** @default 'local' */
  kind?: 'local' | 'aws';
  /** local: the 32-byte master key file (mode 0600). */
  masterKeyPath?: string;
  /** local: create the master key file when missing. @default false */
  createMasterKey?: boolean;
  /** aws: key id, ARN or alias of a symmetric KMS key. */
  keyId?: string;
  /** aws: @default $AWS_REGION */
  region?: string;
  /** aws: endpoint override (a VPC endpoint, or moto in tests). */
  endpoint?: string;
}
