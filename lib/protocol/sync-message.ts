// The sync messages peers append to each other's sync streams (Redis Streams by default): pure encoding.
import type { MembershipEvent } from './types';

/** ready(epoch, step): "my averaged gradient of this step is published", plus what the sender knows. */
export interface ReadyMessage {
  type: 'ready';
  run: string;
  peer: string;
  epoch: number;
  step: number;
  /** Peers the sender suspects (its failure detector, plus peers an operator removed): its vote. */
  suspects: string[];
  /**
   * For each peer whose gradient the sender has not aggregated lately, the first (epoch, step) of that
   * streak: where catch-up work for a removed peer starts.
   */
  missing: Record<string, [number, number]>;
  /** The sender's agreed removals and admissions so far (a peer that missed a decision adopts it). */
  membership: MembershipEvent[];
  /** Peers the sender was asked to admit at the next epoch boundary (addPeer signal). */
  adds: string[];
  /** Why the sender is stopping (stop signal, convergence), or null: every peer ends after this step. */
  stop: string | null;
}

/** A notice from `peer` about `target`, with the reason. */
interface TargetedNotice<T extends string> {
  type: T;
  run: string;
  peer: string;
  target: string;
  epoch: number;
  step: number;
  reason: string;
}

/** Sent to a peer that the others removed, so that it learns it and stops. */
export type RemovedNotice = TargetedNotice<'removed'>;

/** Sent by the admitting peer to a (re)admitted peer once its model is in place: where to start. */
export interface AdmittedNotice {
  type: 'admitted';
  run: string;
  peer: string;
  target: string;
  /** The first (epoch, step) the admitted peer takes part in. */
  epoch: number;
  step: number;
  /** The active set from then on (the admitted peer included), in rank order. */
  active: string[];
  membership: MembershipEvent[];
  /** SHA-256 (hex) of the parameters the admitting peer copied: checked before the first step. */
  paramsSha256: string;
  /** Every peer of the run in rank order, peers that joined after the start included. */
  order?: string[];
}

/**
 * Sent by a peer that leaves the run on its own (an operator removed it) to every other active peer, so that
 * a peer that has not yet heard of the removal stops waiting for it at the barrier and votes it out.
 */
export interface DepartedNotice {
  type: 'departed';
  run: string;
  peer: string;
  /** The first step the sender does not take part in. */
  epoch: number;
  step: number;
  reason: string;
}

/**
 * Sent to a peer that was asked to join (or rejoin) when the run ends before an epoch boundary could admit
 * it (epoch, step: where the run ended): the joining peer stops waiting instead of timing out an hour later.
 */
export type DeclinedNotice = TargetedNotice<'declined'>;

export type SyncMessage = ReadyMessage | RemovedNotice | AdmittedNotice | DepartedNotice | DeclinedNotice;

export function encodeSync(msg: SyncMessage): string[] {
  const { type, run, peer, epoch, step, ...body } = msg;
  return [
    'type',
    type,
    'run',
    run,
    'peer',
    peer,
    'epoch',
    String(epoch),
    'step',
    String(step),
    'body',
    JSON.stringify(body),
  ];
}

/** Parses a stream entry's field list; null for anything that is not a well-formed sync message. */
export function decodeSync(fields: string[]): SyncMessage | null {
  const map: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) map[fields[i]] = fields[i + 1];
  const epoch = Number(map.epoch);
  const step = Number(map.step);
  if (!map.run || !map.peer || !Number.isInteger(epoch) || !Number.isInteger(step)) return null;
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(map.body ?? '{}') as Record<string, unknown>;
  } catch {
    return null;
  }
  if (typeof body !== 'object' || body === null) return null;
  const head = { run: map.run, peer: map.peer, epoch, step };
  if (map.type === 'ready') {
    const suspects = stringList(body.suspects);
    const membership = Array.isArray(body.membership) ? (body.membership as MembershipEvent[]).filter(isEvent) : null;
    const missing = isMissing(body.missing) ? body.missing : null;
    if (!suspects || !membership || !missing) return null;
    const adds = stringList(body.adds ?? []);
    if (!adds) return null;
    const stop = typeof body.stop === 'string' ? body.stop : null;
    return { type: 'ready', ...head, suspects, missing, membership, adds, stop };
  }
  if (map.type === 'admitted') {
    const active = stringList(body.active);
    const membership = Array.isArray(body.membership) ? (body.membership as MembershipEvent[]).filter(isEvent) : null;
    if (typeof body.target !== 'string' || typeof body.paramsSha256 !== 'string' || !active || !membership) return null;
    const order = body.order === undefined ? undefined : stringList(body.order);
    if (order === null) return null;
    return {
      type: 'admitted',
      ...head,
      target: body.target,
      active,
      membership,
      paramsSha256: body.paramsSha256,
      ...(order ? { order } : {}),
    };
  }
  if (map.type === 'removed' || map.type === 'declined') {
    if (typeof body.target !== 'string' || typeof body.reason !== 'string') return null;
    return { type: map.type, ...head, target: body.target, reason: body.reason };
  }
  if (map.type === 'departed') {
    if (typeof body.reason !== 'string') return null;
    return { type: 'departed', ...head, reason: body.reason };
  }
  return null;
}

/** -1, 0 or 1 as (epoch, step) a is before, at or after b. */
export function compareStep(a: { epoch: number; step: number }, b: { epoch: number; step: number }): number {
  if (a.epoch !== b.epoch) return a.epoch < b.epoch ? -1 : 1;
  if (a.step !== b.step) return a.step < b.step ? -1 : 1;
  return 0;
}

function stringList(v: unknown): string[] | null {
  return Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : null;
}

function isEvent(e: unknown): e is MembershipEvent {
  const m = e as MembershipEvent;
  return (
    typeof m === 'object' &&
    m !== null &&
    Number.isInteger(m.epoch) &&
    Number.isInteger(m.step) &&
    typeof m.peer === 'string' &&
    (m.change === 'removed' || m.change === 'added') &&
    typeof m.reason === 'string'
  );
}

function isMissing(v: unknown): v is Record<string, [number, number]> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  return Object.values(v).every((x) => Array.isArray(x) && x.length === 2 && x.every(Number.isInteger));
}
