// Private keys at rest: only as ciphertext under a KMS data key (envelope encryption). The stored record
// holds the public keys in clear, the data key encrypted by the KMS, and the private keys encrypted by the
// data key with AES-256-GCM; the data key in clear exists only in memory while sealing or opening.
import { createPublicKey } from 'node:crypto';
import { SecurityError } from '../errors/security-error';
import type { EncryptionContext, Kms } from '../kms/types';
import { aesGcmDecrypt, aesGcmEncrypt, fromBase64 } from './aead';
import { canonicalJson } from './canonical';
import { keyFingerprint, type KeyPairPem, type KeySuite, type PeerKeys } from './keys';

/** Ciphertext fields shared by the stored records (base64). */
interface EnvelopeFields {
  /** The data key, encrypted by the KMS under the record's encryption context. */
  dataKey: string;
  iv: string;
  ct: string;
  tag: string;
}

/** A peer's keys at rest: JSON-safe, no secret in clear. */
export interface SealedPeerKeys extends EnvelopeFields {
  v: 1;
  kind: 'spirt-peer-keys';
  /** Which KMS sealed it (informational: opening needs the same KMS and context). */
  kms: 'local' | 'aws';
  suite: KeySuite;
  signingKey: string;
  encryptionKey: string;
}

/**
 * Seals a peer's private keys under a fresh KMS data key. The encryption `context` (e.g.
 * `{ purpose: 'spirt-peer-keys', peer: 'p1' }`) must be given again to open them.
 */
export async function sealPrivateKeys(kms: Kms, keys: PeerKeys, context: EncryptionContext): Promise<SealedPeerKeys> {
  const head = {
    v: 1 as const,
    kind: 'spirt-peer-keys' as const,
    kms: kms.kind,
    suite: keys.suite,
    signingKey: keys.signing.publicKey,
    encryptionKey: keys.encryption.publicKey,
  };
  const secret = { signing: keys.signing.privateKey, encryption: keys.encryption.privateKey };
  return { ...head, ...(await seal(kms, secret, context, bindingOf(head))) };
}

/**
 * Opens a record made by {@link sealPrivateKeys}, and checks that each private key matches its public key.
 * @throws SecurityError: from the KMS ('decrypt-failed' for another context), 'decrypt-failed' for a record
 * whose public keys or ciphertext were changed, 'malformed'
 */
export async function openPrivateKeys(kms: Kms, record: SealedPeerKeys, context: EncryptionContext): Promise<PeerKeys> {
  if (record?.v !== 1 || record.kind !== 'spirt-peer-keys')
    throw new SecurityError('malformed', 'not a sealed peer key record');
  const { v, kind, kms: kmsKind, suite, signingKey, encryptionKey } = record;
  const secret = await open(
    kms,
    record,
    context,
    bindingOf({ v, kind, kms: kmsKind, suite, signingKey, encryptionKey }),
  );
  const signing = pair(signingKey, secret.signing, 'signing');
  const encryption = pair(encryptionKey, secret.encryption, 'encryption');
  return { suite, signing, encryption };
}

/** AES-GCM associated data: the record's clear fields, so swapping a public key is detected. */
function bindingOf(head: object): Buffer {
  return Buffer.from(canonicalJson(['spirt-key-store-v1', head]), 'utf8');
}

async function seal(
  kms: Kms,
  secret: Record<string, string>,
  context: EncryptionContext,
  aad: Buffer,
): Promise<EnvelopeFields> {
  const dataKey = await kms.generateDataKey(context);
  try {
    const { iv, ciphertext, tag } = aesGcmEncrypt(dataKey.plaintext, Buffer.from(JSON.stringify(secret), 'utf8'), aad);
    return {
      dataKey: dataKey.ciphertext.toString('base64'),
      iv: iv.toString('base64'),
      ct: ciphertext.toString('base64'),
      tag: tag.toString('base64'),
    };
  } finally {
    dataKey.plaintext.fill(0);
  }
}

async function open(
  kms: Kms,
  record: EnvelopeFields,
  context: EncryptionContext,
  aad: Buffer,
): Promise<Record<string, string>> {
  const wrapped = fromBase64(record.dataKey);
  const iv = fromBase64(record.iv);
  const ciphertext = fromBase64(record.ct);
  const tag = fromBase64(record.tag);
  if (!wrapped || !iv || !ciphertext || !tag)
    throw new SecurityError('malformed', 'sealed key record: a field is not base64');
  const dataKey = await kms.decrypt(wrapped, context);
  let plaintext: Buffer | null;
  try {
    if (dataKey.length !== 32) throw new SecurityError('malformed', 'sealed key record: the data key is not 32 bytes');
    plaintext = aesGcmDecrypt(dataKey, { iv, ciphertext, tag }, aad);
  } finally {
    dataKey.fill(0);
  }
  if (!plaintext)
    throw new SecurityError(
      'decrypt-failed',
      'sealed key record does not authenticate: its public keys or ciphertext were changed',
    );
  try {
    return JSON.parse(plaintext.toString('utf8')) as Record<string, string>;
  } finally {
    plaintext.fill(0);
  }
}

function pair(publicKey: string, privateKey: string | undefined, role: string): KeyPairPem {
  let derived: string;
  try {
    derived = createPublicKey(privateKey ?? '')
      .export({ type: 'spki', format: 'pem' })
      .toString();
  } catch {
    throw new SecurityError('malformed', `sealed key record: the ${role} private key does not parse`);
  }
  if (keyFingerprint(derived) !== keyFingerprint(publicKey)) {
    throw new SecurityError('wrong-key', `sealed key record: the ${role} private key does not match its public key`);
  }
  return { publicKey, privateKey: privateKey as string };
}
