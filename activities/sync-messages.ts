// The sync message format on the peers' Redis streams.

export interface ReadyMessage {
  type: 'ready';
  run: string;
  peer: string;
  epoch: number;
  step: number;
}

export function encodeReady(msg: ReadyMessage): string[] {
  return ['type', msg.type, 'run', msg.run, 'peer', msg.peer, 'epoch', String(msg.epoch), 'step', String(msg.step)];
}

/** Parses a stream entry's field list; null for anything that is not a well-formed ready message. */
export function decodeReady(fields: string[]): ReadyMessage | null {
  const map: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) map[fields[i]] = fields[i + 1];
  const epoch = Number(map.epoch);
  const step = Number(map.step);
  if (map.type !== 'ready' || !map.run || !map.peer || !Number.isInteger(epoch) || !Number.isInteger(step)) return null;
  return { type: 'ready', run: map.run, peer: map.peer, epoch, step };
}

/** -1, 0 or 1 as (epoch, step) a is before, at or after b. */
export function compareStep(a: { epoch: number; step: number }, b: { epoch: number; step: number }): number {
  if (a.epoch !== b.epoch) return a.epoch < b.epoch ? -1 : 1;
  if (a.step !== b.step) return a.step < b.step ? -1 : 1;
  return 0;
}
