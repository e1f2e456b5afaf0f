// The signed protocol message of the handshake and of peer-to-peer messages (ARCHITECTURE.md section 8):
// the signature binds type, network, sender, recipient, a nonce, a timestamp and the payload's hash, so a
// message cannot be forged, replayed, reflected to another peer or moved to another network.
import { randomBytes } from 'node:crypto';
import { canonicalHash } from '../crypto/canonical';
import type { ReplayGuard } from '../crypto/replay-guard';
import { signBytes, verifyBytes } from '../crypto/sign';
import { SecurityError } from '../errors/security-error';

export { MemoryReplayGuard, type ReplayGuard } from '../crypto/replay-guard';

/** A protocol message signed by its sender. Plain JSON. */
export interface SignedEnvelope<T> {
  v: 1;
  /** Message kind, e.g. `join-request`, `credentials`. */
  type: string;
  /** The network (or run) the message belongs to. */
  network: string;
  sender: string;
  recipient: string;
  /** 128 random bits, hex: with `sender`, what the replay guard remembers. */
  nonce: string;
  /** Sender's clock at signing, ms since the epoch. */
  ts: number;
  /** Hex SHA-256 of the canonical JSON of `payload`. */
  payloadHash: string;
  payload: T;
  /** Base64 signature over {@link envelopeSigningInput}. */
  sig: string;
}

/** What the caller of {@link signEnvelope} provides. */
export interface EnvelopeFields<T> {
  type: string;
  network: string;
  sender: string;
  recipient: string;
  payload: T;
}

export interface VerifyEnvelopeOptions {
  /** The signing public key (PEM) that the expected sender's enrolment token vouches for. */
  senderPublicKey: string;
  /** This peer's id: a message addressed to anyone else is refused (no reflection). */
  expectedRecipient: string;
  expectedNetwork: string;
  /** Refuse other message kinds. @default any */
  expectedType?: string;
  /** @default Date.now() */
  now?: number;
  /** Largest accepted |now - ts|. @default 60000 */
  maxSkewMs?: number;
  replay: ReplayGuard;
}

/** Domain tag of envelope signatures, so they can never be taken for another kind of signature. */
export const ENVELOPE_DOMAIN = 'spirt-envelope-v1';

const MAX_FIELD_CHARS = 256;

/**
 * The bytes an envelope's signature covers: a JSON array of the domain tag and (v, type, network, sender,
 * recipient, nonce, ts, payloadHash). A JSON array of strings and numbers has one reading, so no two
 * different headers share signed bytes (unlike a joined string, where `a:b` + `c` = `a` + `b:c`).
 */
export function envelopeSigningInput(env: Omit<SignedEnvelope<unknown>, 'payload' | 'sig'>): Buffer {
  return Buffer.from(
    JSON.stringify([
      ENVELOPE_DOMAIN,
      env.v,
      env.type,
      env.network,
      env.sender,
      env.recipient,
      env.nonce,
      env.ts,
      env.payloadHash,
    ]),
    'utf8',
  );
}

/**
 * Signs a protocol message with the sender's signing private key (PEM), adding a fresh nonce, the time and
 * the payload's hash. The payload must be JSON (see canonicalJson).
 * @param now @default Date.now()
 */
export function signEnvelope<T>(
  fields: EnvelopeFields<T>,
  signingPrivateKeyPem: string,
  now = Date.now(),
): SignedEnvelope<T> {
  for (const name of ['type', 'network', 'sender', 'recipient'] as const) checkField(name, fields[name]);
  const header = {
    v: 1 as const,
    type: fields.type,
    network: fields.network,
    sender: fields.sender,
    recipient: fields.recipient,
    nonce: randomBytes(16).toString('hex'),
    ts: Math.trunc(now),
    payloadHash: canonicalHash(fields.payload),
  };
  return { ...header, payload: fields.payload, sig: signBytes(signingPrivateKeyPem, envelopeSigningInput(header)) };
}

/**
 * Verifies a received envelope: shape, signature by `senderPublicKey`, payload hash, network, recipient,
 * type, timestamp within `maxSkewMs`, and finally that the nonce is new (consulted last, so a forged or
 * misaddressed message cannot use up a genuine message's nonce).
 * @returns the envelope, typed (validate the payload's shape yourself)
 * @throws SecurityError with reason 'malformed' | 'bad-signature' | 'payload-hash' | 'wrong-network' |
 * 'wrong-recipient' | 'wrong-type' | 'stale' | 'replayed' (or 'replay-capacity' from the guard)
 */
export async function verifyEnvelope<T = unknown>(
  env: unknown,
  opts: VerifyEnvelopeOptions,
): Promise<SignedEnvelope<T>> {
  const e = parseEnvelope<T>(env);
  const what = `${quote(e.type)} message from ${quote(e.sender)}`;
  if (!verifyBytes(opts.senderPublicKey, envelopeSigningInput(e), e.sig)) {
    throw new SecurityError('bad-signature', `${what}: signature does not verify with the sender's enrolled key`);
  }
  let hash: string;
  try {
    hash = canonicalHash(e.payload);
  } catch {
    throw new SecurityError('malformed', `${what}: payload is not JSON`);
  }
  if (hash !== e.payloadHash) {
    throw new SecurityError('payload-hash', `${what}: payload does not match the signed payload hash`);
  }
  if (e.network !== opts.expectedNetwork) {
    throw new SecurityError(
      'wrong-network',
      `${what}: for network ${quote(e.network)}, this is ${quote(opts.expectedNetwork)}`,
    );
  }
  if (e.recipient !== opts.expectedRecipient) {
    throw new SecurityError(
      'wrong-recipient',
      `${what}: addressed to ${quote(e.recipient)}, not to ${quote(opts.expectedRecipient)}`,
    );
  }
  if (opts.expectedType !== undefined && e.type !== opts.expectedType) {
    throw new SecurityError('wrong-type', `${what}: expected a ${quote(opts.expectedType)} message`);
  }
  const now = opts.now ?? Date.now();
  const maxSkewMs = opts.maxSkewMs ?? 60_000;
  if (Math.abs(now - e.ts) > maxSkewMs) {
    throw new SecurityError(
      'stale',
      `${what}: timestamp is ${Math.round((now - e.ts) / 1000)} s ${e.ts <= now ? 'old' : 'in the future'} (limit ${maxSkewMs / 1000} s)`,
    );
  }
  if (await opts.replay.seen(e.sender, e.nonce, e.ts)) {
    throw new SecurityError('replayed', `${what}: nonce ${e.nonce} was already used (a replayed message)`);
  }
  return e;
}

function parseEnvelope<T>(env: unknown): SignedEnvelope<T> {
  const e = env as Partial<Record<keyof SignedEnvelope<T>, unknown>> | null;
  if (!e || typeof e !== 'object' || Array.isArray(e))
    throw new SecurityError('malformed', 'envelope is not an object');
  if (e.v !== 1) throw new SecurityError('malformed', `envelope version ${quote(e.v)} is not 1`);
  for (const name of ['type', 'network', 'sender', 'recipient'] as const) {
    if (typeof e[name] !== 'string' || e[name] === '' || (e[name] as string).length > MAX_FIELD_CHARS) {
      throw new SecurityError('malformed', `envelope field ${name} is not a string of 1-${MAX_FIELD_CHARS} characters`);
    }
  }
  if (typeof e.nonce !== 'string' || !/^[0-9a-f]{32}$/.test(e.nonce)) {
    throw new SecurityError('malformed', 'envelope nonce is not 32 lowercase hex digits');
  }
  if (!Number.isSafeInteger(e.ts)) throw new SecurityError('malformed', 'envelope ts is not an integer');
  if (typeof e.payloadHash !== 'string' || !/^[0-9a-f]{64}$/.test(e.payloadHash)) {
    throw new SecurityError('malformed', 'envelope payloadHash is not 64 lowercase hex digits');
  }
  if (!('payload' in e) || e.payload === undefined) throw new SecurityError('malformed', 'envelope has no payload');
  if (typeof e.sig !== 'string') throw new SecurityError('malformed', 'envelope has no signature');
  return e as SignedEnvelope<T>;
}

function checkField(name: string, value: unknown): void {
  if (typeof value !== 'string' || value === '' || value.length > MAX_FIELD_CHARS) {
    throw new TypeError(`envelope field ${name} must be a string of 1-${MAX_FIELD_CHARS} characters`);
  }
}

/** A received (untrusted) value, quoted and cut short for a log line. */
function quote(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 70 ? `${text.slice(0, 67)}...` : text;
}
