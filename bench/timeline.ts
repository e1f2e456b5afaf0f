// The tail of each step from a real-clock timeline (SPIRT_TRACE, lib/log/trace.ts): `spirt bench epoch
// --timeline` summarises the measured epoch with it. Per step: the peer whose function calls finished last
// (L), then what stands between that moment and the next step: L's averaging and signing, its announcement
// (all its deliveries, its own stream's included) and when it reached each other peer, their copies of L's
// gradient and what was left of them at the barrier, their aggregation and update, and how far apart the
// peers start the next step.

/** One line of a SPIRT_TRACE file. */
export interface TraceEvent {
  t: number;
  peer: string;
  ev: string;
  step: number;
  [extra: string]: unknown;
}

export interface Spread {
  mean: number;
  p50: number;
  max: number;
  /** Samples (steps, or steps x other peers). */
  n: number;
}

export interface TimelineSummary {
  /** Steps of the epoch with a complete timeline on every peer. */
  steps: number;
  /** L's last function call returned to its average being signed (average, hash, signature stored). */
  last_average_ms: Spread;
  /** L's average signed to its ready delivered to every peer, itself included (detector read, announcement). */
  last_announce_ms: Spread;
  /** L's average signed to each other peer's prefetcher starting to copy it (the announcement reached it). */
  others_notified_ms: Spread;
  /** Each other peer's copy of L's gradient: read, hashed, written into its own Redis, checked, renamed. */
  others_copy_ms: Spread;
  /** The other peers: from `stepFinish` to their copies of the step's gradients being complete. */
  others_fetch_ms: Spread;
  others_aggregate_ms: Spread;
  others_update_ms: Spread;
  /** L's last function call returned to the last peer starting the next step (steps but the epoch's last). */
  tail_ms: Spread;
  /** The first to the last peer starting a step. */
  front_skew_ms: Spread;
}

function spread(values: number[]): Spread {
  if (values.length === 0) return { mean: 0, p50: 0, max: 0, n: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return {
    mean: Number(mean.toFixed(1)),
    p50: sorted[Math.floor(sorted.length / 2)],
    max: sorted[sorted.length - 1],
    n: values.length,
  };
}

/** Parses a SPIRT_TRACE file's lines (blank and malformed lines are skipped). */
export function parseTrace(text: string): TraceEvent[] {
  const out: TraceEvent[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const e = JSON.parse(line) as TraceEvent;
      if (typeof e.t === 'number' && typeof e.peer === 'string' && typeof e.ev === 'string') out.push(e);
    } catch {
      // a line cut short by a killed worker
    }
  }
  return out;
}

/**
 * Summarises epoch `epoch` (1-based, counted per peer by its fronts of step 0) of a timeline. Steps that are
 * missing an event on some peer (a step the workflow finished itself, an epoch's last step for `tail_ms`)
 * are left out of the parts that need it.
 */
export function summarizeTimeline(events: TraceEvent[], epoch: number): TimelineSummary {
  const sorted = [...events].sort((a, b) => a.t - b.t);
  const epochs = new Map<string, number>();
  const inEpoch: TraceEvent[] = [];
  for (const e of sorted) {
    if (e.ev === 'front' && e.step === 0) epochs.set(e.peer, (epochs.get(e.peer) ?? 0) + 1);
    if ((epochs.get(e.peer) ?? 0) === epoch) inEpoch.push(e);
  }
  // peer -> event -> step -> first time; a copy's events also as "<event> <peer copied from>".
  const at = new Map<string, Map<string, Map<number, number>>>();
  for (const e of inEpoch) {
    const byEv = at.get(e.peer) ?? new Map<string, Map<number, number>>();
    at.set(e.peer, byEv);
    for (const name of typeof e.from === 'string' ? [e.ev, `${e.ev} ${e.from}`] : [e.ev]) {
      const bySteps = byEv.get(name) ?? new Map<number, number>();
      byEv.set(name, bySteps);
      if (!bySteps.has(e.step)) bySteps.set(e.step, e.t);
    }
  }
  const get = (peer: string, ev: string, step: number) => at.get(peer)?.get(ev)?.get(step);
  const peers = [...at.keys()].sort();
  const stepNumbers = [...new Set(inEpoch.filter((e) => e.ev === 'computed').map((e) => e.step))].sort((a, b) => a - b);
  const parts = {
    average: [] as number[],
    announce: [] as number[],
    notified: [] as number[],
    copy: [] as number[],
    fetch: [] as number[],
    aggregate: [] as number[],
    update: [] as number[],
    tail: [] as number[],
    skew: [] as number[],
  };
  let steps = 0;
  for (const step of stepNumbers) {
    const computed = peers.map((p) => get(p, 'computed', step));
    const fronts = peers.map((p) => get(p, 'front', step));
    if (computed.some((t) => t === undefined) || fronts.some((t) => t === undefined)) continue;
    steps++;
    const last = peers[computed.indexOf(Math.max(...(computed as number[])))];
    const done = get(last, 'computed', step)!;
    parts.skew.push(Math.max(...(fronts as number[])) - Math.min(...(fronts as number[])));
    const averaged = get(last, 'averaged', step);
    const published = get(last, 'published', step);
    if (averaged !== undefined) parts.average.push(averaged - done);
    if (averaged !== undefined && published !== undefined) parts.announce.push(published - averaged);
    for (const p of peers) {
      if (p === last) continue;
      const [finish, fetched, aggregated, updated] = ['finish', 'fetched', 'aggregated', 'updated'].map((ev) =>
        get(p, ev, step),
      );
      const [started, ended] = ['prefetch-start', 'prefetch-end'].map((ev) => get(p, `${ev} ${last}`, step));
      if (averaged !== undefined && started !== undefined) parts.notified.push(started - averaged);
      if (started !== undefined && ended !== undefined) parts.copy.push(ended - started);
      if (finish !== undefined && fetched !== undefined) parts.fetch.push(fetched - finish);
      if (fetched !== undefined && aggregated !== undefined) parts.aggregate.push(aggregated - fetched);
      if (aggregated !== undefined && updated !== undefined) parts.update.push(updated - aggregated);
    }
    const next = peers.map((p) => get(p, 'front', step + 1));
    if (next.every((t) => t !== undefined)) parts.tail.push(Math.max(...(next as number[])) - done);
  }
  return {
    steps,
    last_average_ms: spread(parts.average),
    last_announce_ms: spread(parts.announce),
    others_notified_ms: spread(parts.notified),
    others_copy_ms: spread(parts.copy),
    others_fetch_ms: spread(parts.fetch),
    others_aggregate_ms: spread(parts.aggregate),
    others_update_ms: spread(parts.update),
    tail_ms: spread(parts.tail),
    front_skew_ms: spread(parts.skew),
  };
}
