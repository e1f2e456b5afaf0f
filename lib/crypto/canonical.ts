import { createHash } from 'node:crypto';

/**
 * Canonical JSON: object keys sorted (by UTF-16 code unit, JavaScript's default order), no whitespace,
 * otherwise exactly what `JSON.stringify` writes (so `toJSON` is honoured and keys holding `undefined` are
 * left out). Two parties that hold equal JSON values get the same bytes, whatever the key order they
 * received: `canonicalJson(x) === canonicalJson(JSON.parse(JSON.stringify(x)))`.
 * @throws TypeError for values JSON cannot carry faithfully: non-finite numbers, bigint, functions, symbols,
 * or `undefined` as the whole value or an array element.
 */
export function canonicalJson(value: unknown): string {
  return encode(value, '');
}

/** Hex SHA-256 of the canonical JSON of `value` (a signed message's payload hash). */
export function canonicalHash(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}

/** Hex SHA-256 of a string (UTF-8) or bytes. */
export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function encode(value: unknown, path: string): string {
  if (value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    value = (value as { toJSON(key: string): unknown }).toJSON('');
  }
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonical JSON: ${path || 'value'} is ${value}`);
      return JSON.stringify(value);
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        return `[${value.map((item, i) => encode(item, `${path}[${i}]`)).join(',')}]`;
      }
      const record = value as Record<string, unknown>;
      const parts: string[] = [];
      for (const key of Object.keys(record).sort()) {
        const item = record[key];
        if (item === undefined) continue;
        parts.push(`${JSON.stringify(key)}:${encode(item, path ? `${path}.${key}` : key)}`);
      }
      return `{${parts.join(',')}}`;
    }
    default:
      throw new TypeError(`canonical JSON: ${path || 'value'} is a ${typeof value}, which JSON cannot carry`);
  }
}
