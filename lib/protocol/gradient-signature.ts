import { canonicalJson, sha256Hex } from '../crypto/canonical';
import { signBytes, verifyBytes } from '../crypto/sign';

/**
 * What a peer signs when it publishes its averaged gradient for one step (ARCHITECTURE.md section 8): the
 * run, epoch, step, its id and the SHA-256 of the bytes (and of its averaged buffers, when the model has
 * any). Binding all of them stops a signature from being moved to another step, run or peer.
 */
export interface GradientStatement {
  v: 1;
  kind: 'averaged-gradient';
  run: string;
  epoch: number;
  step: number;
  peer: string;
  sha256: string;
  buffersSha256?: string;
}

/** The stored signature (JSON, key `spirt:<run>:sig:<epoch>:<step>:avg`). */
export interface SignedGradient {
  statement: GradientStatement;
  sig: string;
}

export function signGradient(
  signingPrivateKey: string,
  fields: { run: string; epoch: number; step: number; peer: string },
  gradient: Buffer,
  buffers?: Buffer | null,
): SignedGradient {
  return signGradientDigest(signingPrivateKey, fields, sha256Hex(gradient), buffers ? sha256Hex(buffers) : null);
}

/** signGradient from the SHA-256s (hex) of the bytes, hashed where they are (inside Redis: SPIRT.SHA256). */
export function signGradientDigest(
  signingPrivateKey: string,
  fields: { run: string; epoch: number; step: number; peer: string },
  sha256: string,
  buffersSha256: string | null,
): SignedGradient {
  const statement: GradientStatement = {
    v: 1,
    kind: 'averaged-gradient',
    ...fields,
    sha256,
    ...(buffersSha256 !== null ? { buffersSha256 } : {}),
  };
  return { statement, sig: signBytes(signingPrivateKey, Buffer.from(canonicalJson(statement))) };
}

/**
 * Checks a published gradient against its signature and the step it is used for.
 * @returns null when it verifies, else the reason it does not
 */
export function checkGradientSignature(
  signingPublicKey: string,
  stored: string | null,
  expected: { run: string; epoch: number; step: number; peer: string },
  gradient: Buffer,
  buffers?: Buffer | null,
): string | null {
  return checkGradientDigest(
    signingPublicKey,
    stored,
    expected,
    sha256Hex(gradient),
    buffers ? sha256Hex(buffers) : null,
  );
}

/** checkGradientSignature from the SHA-256s (hex) of the bytes, hashed as they were copied. */
export function checkGradientDigest(
  signingPublicKey: string,
  stored: string | null,
  expected: { run: string; epoch: number; step: number; peer: string },
  sha256: string,
  buffersSha256: string | null,
): string | null {
  if (!stored) return 'no signature published';
  let signed: SignedGradient;
  try {
    signed = JSON.parse(stored) as SignedGradient;
  } catch {
    return 'signature record is not JSON';
  }
  const st = signed?.statement;
  if (!st || typeof signed.sig !== 'string') return 'signature record is malformed';
  if (!verifyBytes(signingPublicKey, Buffer.from(canonicalJson(st)), signed.sig)) return 'bad signature';
  if (st.kind !== 'averaged-gradient' || st.v !== 1) return `signed statement is a ${String(st.kind)}, not a gradient`;
  for (const f of ['run', 'epoch', 'step', 'peer'] as const) {
    if (st[f] !== expected[f]) return `signed for ${f} ${String(st[f])}, not ${String(expected[f])}`;
  }
  if (st.sha256 !== sha256) return 'gradient bytes do not match the signed SHA-256 (tampered)';
  if (buffersSha256 !== null && st.buffersSha256 !== buffersSha256)
    return 'buffer bytes do not match the signed SHA-256';
  return null;
}
