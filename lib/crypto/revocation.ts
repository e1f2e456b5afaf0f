// The administrator's revocation list: one signed JSON object per line (JSON Lines), appended by
// `spirt admin revoke`. A revocation refuses every token of that peer id issued at or before `revokedAt`;
// a token issued later (re-enrolment with new keys) is accepted again.
import { appendFileSync, chmodSync, existsSync, readFileSync } from 'node:fs';
import { SecurityError } from '../errors/security-error';
import { canonicalJson } from './canonical';
import { adminFingerprintOf, NAME_PATTERN, type EnrolmentToken } from './enrolment';
import { keyFingerprint } from './keys';
import { signBytes, verifyBytes } from './sign';

/** One line of the revocation list. */
export interface Revocation {
  v: 1;
  peer: string;
  /** ISO 8601, UTC. */
  revokedAt: string;
  /** Fingerprint of the administrator key that signed it. */
  admin: string;
  /** Base64 signature by the administrator key over canonical JSON of the other fields. */
  sig: string;
}

export const REVOCATION_DOMAIN = 'spirt-revocation-v1';

function signingInput(r: Omit<Revocation, 'sig'>): Buffer {
  return Buffer.from(
    canonicalJson([REVOCATION_DOMAIN, { v: r.v, peer: r.peer, revokedAt: r.revokedAt, admin: r.admin }]),
  );
}

/** A revocation of `peer` signed with the administrator private key (PEM). @param revokedAt @default now */
export function signRevocation(adminPrivateKeyPem: string, peer: string, revokedAt: Date = new Date()): Revocation {
  if (!NAME_PATTERN.test(peer)) throw new SecurityError('malformed', `peer id ${JSON.stringify(peer)} is not valid`);
  const unsigned = {
    v: 1 as const,
    peer,
    revokedAt: revokedAt.toISOString(),
    admin: adminFingerprintOf(adminPrivateKeyPem),
  };
  return { ...unsigned, sig: signBytes(adminPrivateKeyPem, signingInput(unsigned)) };
}

/** Appends one revocation line to the list file (created with mode 0600). */
export function appendRevocation(path: string, revocation: Revocation): void {
  const created = !existsSync(path);
  appendFileSync(path, JSON.stringify(revocation) + '\n', { mode: 0o600 });
  if (created) chmodSync(path, 0o600);
}

/**
 * Reads and verifies a revocation list; a missing file is an empty list.
 * @throws SecurityError('malformed' | 'other-admin' | 'bad-signature') naming the first bad line: a list
 * that does not verify is refused whole rather than partly applied
 */
export function readRevocations(path: string, adminPublicKey: string): Revocation[] {
  if (!existsSync(path)) return [];
  const lines = readFileSync(path, 'utf8').split('\n');
  const out: Revocation[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const where = `revocation list ${path} line ${i + 1}`;
    out.push(verifyRevocation(line, adminPublicKey, where));
  });
  return out;
}

/**
 * Parses and verifies one revocation (JSON text or object) against the administrator public key.
 * @throws SecurityError('malformed' | 'other-admin' | 'bad-signature') prefixed with `where`
 */
export function verifyRevocation(input: string | object, adminPublicKey: string, where = 'revocation'): Revocation {
  const trusted = keyFingerprint(adminPublicKey);
  let r: Partial<Revocation>;
  if (typeof input === 'string') {
    try {
      r = JSON.parse(input) as Partial<Revocation>;
    } catch {
      throw new SecurityError('malformed', `${where}: not JSON`);
    }
  } else r = input as Partial<Revocation>;
  if (
    typeof r !== 'object' ||
    r === null ||
    r.v !== 1 ||
    typeof r.peer !== 'string' ||
    typeof r.revokedAt !== 'string' ||
    typeof r.admin !== 'string' ||
    typeof r.sig !== 'string' ||
    Number.isNaN(Date.parse(r.revokedAt))
  ) {
    throw new SecurityError('malformed', `${where}: not a revocation`);
  }
  if (r.admin !== trusted)
    throw new SecurityError('other-admin', `${where}: signed by administrator key ${r.admin}, not ${trusted}`);
  if (!verifyBytes(adminPublicKey, signingInput(r as Revocation), r.sig)) {
    throw new SecurityError('bad-signature', `${where}: signature does not verify with the administrator key`);
  }
  return r as Revocation;
}

/**
 * The `revoked` predicate for verifyEnrolment: a token is revoked when a revocation of its peer is at or
 * after the token's `issuedAt`.
 */
export function revocationCheck(revocations: readonly Revocation[]): (peer: string, token: EnrolmentToken) => boolean {
  const latest = new Map<string, number>();
  for (const r of revocations) latest.set(r.peer, Math.max(latest.get(r.peer) ?? -Infinity, Date.parse(r.revokedAt)));
  return (peer, token) => {
    const at = latest.get(peer);
    return at !== undefined && Date.parse(token.issuedAt) <= at;
  };
}
