// Searching text for secrets in the forms they could leak in: as is, base64, hex, and for a PEM key its
// body (a JSON-escaped PEM has `\n` where the file has a newline, so the whole text would not match).

export interface Secret {
  what: string;
  value: string;
}

function forms(value: string): string[] {
  const out = new Set<string>([value, Buffer.from(value).toString('base64'), Buffer.from(value).toString('hex')]);
  const pem = /-----BEGIN [A-Z ]+-----([\s\S]*?)-----END/.exec(value);
  if (pem) {
    const lines = pem[1].split(/\r?\n/).filter((l) => l.trim().length > 0);
    for (const line of lines) if (line.length >= 32) out.add(line.trim());
  }
  return [...out].filter((f) => f.length >= 16);
}

/** The `what` of every secret found in `text`, in the order given. */
export function findSecrets(text: string, secrets: readonly Secret[]): string[] {
  return secrets.filter((s) => forms(s.value).some((f) => text.includes(f))).map((s) => s.what);
}

/** Text of a Temporal history (or any protobuf object): strings as they are, byte arrays decoded as UTF-8. */
export function textOf(value: unknown, out: string[] = []): string[] {
  if (value === null || value === undefined) return out;
  if (typeof value === 'string') out.push(value);
  else if (value instanceof Uint8Array)
    out.push(Buffer.from(value).toString('utf8'), Buffer.from(value).toString('base64'));
  else if (Array.isArray(value)) for (const v of value) textOf(v, out);
  else if (typeof value === 'object') for (const v of Object.values(value as Record<string, unknown>)) textOf(v, out);
  else out.push(String(value));
  return out;
}
