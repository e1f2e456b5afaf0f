// Real-clock step timeline for diagnosis: with SPIRT_TRACE=<file>, each worker appends one JSON line per
// event ({t, peer, ev, step, ...}). Off (a no-op) otherwise.
import { appendFileSync } from 'node:fs';

const file = process.env.SPIRT_TRACE;

export function trace(peer: string, ev: string, step: number, extra: Record<string, unknown> = {}): void {
  if (!file) return;
  appendFileSync(file, JSON.stringify({ t: Date.now(), peer, ev, step, ...extra }) + '\n');
}
