import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { aesGcmDecrypt, aesGcmEncrypt } from '../crypto/aead';
import { SecurityError } from '../errors/security-error';
import { contextAad } from './context';
import { KMS_MAX_PLAINTEXT, type DataKey, type EncryptionContext, type Kms } from './types';

/** Blob format version 1: version (1 byte) | master key id (8) | IV (12) | GCM tag (16) | ciphertext. */
const BLOB_VERSION = 1;
const KEY_ID_BYTES = 8;
const HEADER_BYTES = 1 + KEY_ID_BYTES + 12 + 16;
const MASTER_KEY_BYTES = 32;

/**
 * The default KMS: AES-256-GCM under a 32-byte master key held in a file readable by its owner only (mode
 * 0600), one file per peer. Blobs are versioned and name the master key by an 8-byte id (a hash, not the
 * key), so a blob from another master key is reported as such instead of as tampering.
 */
export interface LocalKmsOptions {
  /** Create the master key file (0600; its folder 0700) when it does not exist. @default true */
  createIfMissing?: boolean;
}

export class LocalKms implements Kms {
  readonly kind = 'local' as const;
  private readonly masterKey: Buffer;
  private closed = false;

  /**
   * Opens the master key file at `path`, creating it when missing unless `createIfMissing` is false.
   * @throws SecurityError('key-file') when the file is not a regular file, not 32 bytes, owned by another
   * user, or readable or writable by group or others
   */
  constructor(
    /** The master key file (named in messages). */
    readonly path: string,
    options: LocalKmsOptions = {},
  ) {
    if ((options.createIfMissing ?? true) && !existsSync(path)) writeNewMasterKey(path, false);
    this.masterKey = readMasterKey(path);
  }

  /** Opens an existing master key file (never creates one). @throws SecurityError('key-file') */
  static open(path: string): LocalKms {
    return new LocalKms(path, { createIfMissing: false });
  }

  /**
   * Creates a new random master key file with mode 0600 (its folder, when missing, with 0700).
   * @param overwrite replace an existing file (everything encrypted under the old key becomes unreadable)
   * @throws SecurityError('key-file') when the file exists and `overwrite` is not set
   */
  static create(path: string, overwrite = false): LocalKms {
    writeNewMasterKey(path, overwrite);
    return LocalKms.open(path);
  }

  /** 8-byte id of this master key (hex): SHA-256 of a domain tag and the key, cut short. Not secret. */
  get keyId(): string {
    return this.keyIdBytes().toString('hex');
  }

  async encrypt(plaintext: Buffer, context: EncryptionContext): Promise<Buffer> {
    if (plaintext.length > KMS_MAX_PLAINTEXT) {
      throw new SecurityError('malformed', `KMS encrypt takes at most ${KMS_MAX_PLAINTEXT} bytes (use a data key)`);
    }
    const header = Buffer.concat([Buffer.from([BLOB_VERSION]), this.keyIdBytes()]);
    const { iv, ciphertext, tag } = aesGcmEncrypt(this.masterKey, plaintext, this.aad(header, context));
    return Buffer.concat([header, iv, tag, ciphertext]);
  }

  async decrypt(blob: Buffer, context: EncryptionContext): Promise<Buffer> {
    if (blob.length < HEADER_BYTES) throw new SecurityError('malformed', 'local KMS blob is too short');
    if (blob[0] !== BLOB_VERSION)
      throw new SecurityError('malformed', `local KMS blob version ${blob[0]} is not ${BLOB_VERSION}`);
    const header = blob.subarray(0, 1 + KEY_ID_BYTES);
    const keyId = header.subarray(1).toString('hex');
    if (keyId !== this.keyId) {
      throw new SecurityError(
        'wrong-key',
        `blob was encrypted under local master key ${keyId}, but ${this.path} is ${this.keyId}`,
      );
    }
    const iv = blob.subarray(header.length, header.length + 12);
    const tag = blob.subarray(header.length + 12, HEADER_BYTES);
    const plaintext = aesGcmDecrypt(
      this.masterKey,
      { iv, tag, ciphertext: blob.subarray(HEADER_BYTES) },
      this.aad(header, context),
    );
    if (!plaintext) {
      throw new SecurityError(
        'decrypt-failed',
        'local KMS blob does not authenticate: it was tampered with, or the encryption context differs',
      );
    }
    return plaintext;
  }

  async generateDataKey(context: EncryptionContext): Promise<DataKey> {
    const plaintext = randomBytes(32);
    return { plaintext, ciphertext: await this.encrypt(plaintext, context) };
  }

  /** Wipes the master key from memory; the instance cannot be used afterwards. */
  async close(): Promise<void> {
    this.masterKey.fill(0);
    this.closed = true;
  }

  private keyIdBytes(): Buffer {
    if (this.closed) throw new Error(`local KMS ${this.path} is closed`);
    return createHash('sha256')
      .update('spirt-local-kms-key-id\u0000')
      .update(this.masterKey)
      .digest()
      .subarray(0, KEY_ID_BYTES);
  }

  private aad(header: Buffer, context: EncryptionContext): Buffer {
    return Buffer.concat([Buffer.from('spirt-local-kms-v1\u0000'), header, contextAad(context)]);
  }
}

function readMasterKey(path: string): Buffer {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    throw new SecurityError('key-file', `master key file ${path} does not exist`);
  }
  if (!stat.isFile()) throw new SecurityError('key-file', `master key file ${path} is not a regular file`);
  if ((stat.mode & 0o077) !== 0) {
    const mode = (stat.mode & 0o777).toString(8).padStart(4, '0');
    throw new SecurityError(
      'key-file',
      `master key file ${path} has mode ${mode}: group and others must have no access (chmod 600 ${path}; replace a key that may have been read)`,
    );
  }
  const uid = process.getuid?.();
  if (uid !== undefined && stat.uid !== uid) {
    throw new SecurityError(
      'key-file',
      `master key file ${path} belongs to uid ${stat.uid}, not to this user (uid ${uid})`,
    );
  }
  const key = readFileSync(path);
  if (key.length !== MASTER_KEY_BYTES) {
    throw new SecurityError('key-file', `master key file ${path} holds ${key.length} bytes, not ${MASTER_KEY_BYTES}`);
  }
  return key;
}

function writeNewMasterKey(path: string, overwrite: boolean): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  if (overwrite) rmSync(path, { force: true });
  try {
    // 'wx': never write through an existing file or symlink; the mode applies because the file is new.
    writeFileSync(path, randomBytes(MASTER_KEY_BYTES), { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new SecurityError('key-file', `master key file ${path} already exists; refusing to replace it`);
    }
    throw err;
  }
}
