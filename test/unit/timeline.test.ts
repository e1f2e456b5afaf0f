// bench/timeline.ts: the tail of each step, from a hand-made timeline whose parts are known.
import { parseTrace, summarizeTimeline, type TraceEvent } from '../../bench/timeline';

/** One step of two peers: p2 finishes computing last (at base + 1000). */
function step(step: number, base: number, skew: number): TraceEvent[] {
  const e = (peer: string, ev: string, t: number): TraceEvent => ({ peer, ev, step, t: base + t });
  return [
    e('p1', 'front', 0),
    e('p2', 'front', skew),
    e('p1', 'computed', 900),
    e('p2', 'computed', 1000),
    e('p2', 'averaged', 1010), // L's average: 10
    e('p2', 'published', 1030), // announce: 20
    { ...e('p1', 'prefetch-start', 1016), from: 'p2' }, // notified: 6
    { ...e('p1', 'prefetch-end', 1070), from: 'p2' }, // copy: 54
    { ...e('p2', 'prefetch-start', 950), from: 'p1' }, // p1's gradient: not the last peer's
    e('p1', 'finish', 1035),
    e('p1', 'fetched', 1075), // fetch: 40
    e('p1', 'aggregated', 1090), // aggregate: 15
    e('p1', 'updated', 1100), // update: 10
    e('p2', 'updated', 1120),
  ];
}

describe('summarizeTimeline', () => {
  it("finds the last peer and times each part of the step's tail, for the epoch asked", () => {
    const events = [
      // Epoch 1 (not asked for): other numbers.
      ...step(0, 0, 99),
      // Epoch 2: steps 0 and 1, the next step's fronts 1100 and 1120 after each base.
      ...step(0, 10_000, 5),
      ...step(1, 11_100, 20),
    ].reverse(); // order in the file does not matter
    const s = summarizeTimeline(events, 2);
    expect(s.steps).toBe(2);
    expect(s.last_average_ms).toEqual({ mean: 10, p50: 10, max: 10, n: 2 });
    expect(s.last_announce_ms.mean).toBe(20);
    expect(s.others_notified_ms).toEqual({ mean: 6, p50: 6, max: 6, n: 2 });
    expect(s.others_copy_ms.mean).toBe(54);
    expect(s.others_fetch_ms.mean).toBe(40);
    expect(s.others_aggregate_ms.mean).toBe(15);
    expect(s.others_update_ms.mean).toBe(10);
    expect(s.front_skew_ms).toEqual({ mean: 12.5, p50: 20, max: 20, n: 2 });
    // Step 0's tail: p2 computed at 11,000; the last front of step 1 at 11,120. Step 1 has no next front.
    expect(s.tail_ms).toEqual({ mean: 120, p50: 120, max: 120, n: 1 });
  });

  it('reads a trace file, skipping blank and cut-short lines', () => {
    const text = `${JSON.stringify({ t: 1, peer: 'p1', ev: 'front', step: 0 })}\n\n{"t": 2, "peer"\n`;
    expect(parseTrace(text)).toEqual([{ t: 1, peer: 'p1', ev: 'front', step: 0 }]);
    expect(summarizeTimeline([], 1).steps).toBe(0);
  });
});
