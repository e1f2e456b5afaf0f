import { canonicalJson, sha256Hex } from '../crypto/canonical';
import { signBytes, verifyBytes } from '../crypto/sign';

// The model an active peer hands to a peer it admits (paper III.3.1, Figure 3's last step). The admitting
// peer publishes it in its own Redis (a newcomer's ACL user may read `spirt:*:snapshot:*` there; nobody may
// write another peer's model) with a signed manifest; the newcomer pulls it, checks every hash and the
// signature against the admitting peer's enrolled key, and only then installs it in its own Redis.

export interface SnapshotParts {
  params: Buffer;
  momentum: Buffer | null;
  buffers: Buffer | null;
  layout: string;
  /** The admitting peer's last applied (epoch:step) marker, or null. */
  appliedStep: string | null;
}

export interface SnapshotStatement {
  v: 1;
  kind: 'model-snapshot';
  run: string;
  /** The epoch the admitted peers start with. */
  epoch: number;
  peer: string;
  paramsSha256: string;
  momentumSha256: string | null;
  buffersSha256: string | null;
  layoutSha256: string;
  appliedStep: string | null;
}

export interface SignedSnapshot {
  statement: SnapshotStatement;
  /** Empty when the admitting worker has no keys (unit tests); then only the hashes are checked. */
  sig: string;
}

export function snapshotStatement(
  fields: { run: string; epoch: number; peer: string },
  parts: SnapshotParts,
): SnapshotStatement {
  return {
    v: 1,
    kind: 'model-snapshot',
    ...fields,
    paramsSha256: sha256Hex(parts.params),
    momentumSha256: parts.momentum ? sha256Hex(parts.momentum) : null,
    buffersSha256: parts.buffers ? sha256Hex(parts.buffers) : null,
    layoutSha256: sha256Hex(Buffer.from(parts.layout)),
    appliedStep: parts.appliedStep,
  };
}

export function signSnapshot(statement: SnapshotStatement, signingPrivateKey: string | null): SignedSnapshot {
  return {
    statement,
    sig: signingPrivateKey ? signBytes(signingPrivateKey, Buffer.from(canonicalJson(statement))) : '',
  };
}

/**
 * Checks a pulled snapshot against its manifest, the manifest against the admitting peer's key (when given),
 * and the admission it is for.
 * @returns null when it may be installed, else the reason it may not
 */
export function checkSnapshot(
  signingPublicKey: string | null,
  manifest: string | null,
  expected: { run: string; epoch: number; peer: string; paramsSha256: string },
  parts: SnapshotParts,
): string | null {
  if (!manifest) return 'no snapshot manifest published';
  let signed: SignedSnapshot;
  try {
    signed = JSON.parse(manifest) as SignedSnapshot;
  } catch {
    return 'snapshot manifest is not JSON';
  }
  const st = signed?.statement;
  if (!st || st.kind !== 'model-snapshot' || typeof signed.sig !== 'string') return 'snapshot manifest is malformed';
  if (signingPublicKey && !verifyBytes(signingPublicKey, Buffer.from(canonicalJson(st)), signed.sig))
    return 'bad signature on the snapshot manifest';
  for (const f of ['run', 'epoch', 'peer', 'paramsSha256'] as const) {
    if (st[f] !== expected[f]) return `snapshot is for ${f} ${String(st[f])}, not ${String(expected[f])}`;
  }
  const actual = snapshotStatement({ run: st.run, epoch: st.epoch, peer: st.peer }, parts);
  for (const f of ['paramsSha256', 'momentumSha256', 'buffersSha256', 'layoutSha256', 'appliedStep'] as const) {
    if (actual[f] !== st[f]) return `snapshot ${f.replace('Sha256', '')} does not match its signed hash (tampered)`;
  }
  return null;
}
