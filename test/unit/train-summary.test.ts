import { parseRunConfig } from '../../lib/config/load';
import type { EpochRecord, MembershipEvent } from '../../lib/protocol/types';
import { EpochReporter, epochLine } from '../../lib/train/follow';
import { membershipLine } from '../../lib/train/status-lines';
import { applyMembership, mergeMembership, summarize, type PeerEnd } from '../../lib/train/summary';

function record(epoch: number, over: Partial<EpochRecord> = {}): EpochRecord {
  return {
    epoch,
    steps: 10,
    trainLoss: 1 / epoch,
    testLoss: 0.5 / epoch,
    testAccuracy: 0.9,
    epochMs: 1000,
    computeMs: 600,
    phaseMs: { compute: 600, barrier: 200 },
    activePeers: ['p1', 'p2', 'p3'],
    parallelism: 2,
    ...over,
  } as EpochRecord;
}

const removedP2: MembershipEvent = { epoch: 2, step: 4, peer: 'p2', change: 'removed', reason: 'removed by operator' };

describe('summary.json', () => {
  const config = parseRunConfig({ run: 'r1', peers: 3, epochs: 2, model: 'softmax' });
  const peers: PeerEnd[] = [
    {
      peerId: 'p1',
      history: [record(1), record(2, { computeMs: 700, phaseMs: { compute: 700, barrier: 100 }, epochMs: 1500 })],
      membership: [removedP2],
      outcome: 'completed',
      endReason: null,
    },
    {
      peerId: 'p2',
      history: [record(1, { epochMs: 1200 })],
      membership: [removedP2],
      outcome: 'removed',
      endReason: 'removed by operator',
    },
    {
      peerId: 'p3',
      history: [record(1), record(2, { computeMs: 650, phaseMs: { compute: 650, barrier: 300 } })],
      membership: [removedP2],
      outcome: 'completed',
      endReason: null,
    },
  ];
  const summary = summarize({
    config,
    initialPeers: ['p1', 'p2', 'p3'],
    peers,
    workflowIds: ['spirt-r1-p1', 'spirt-r1-p2', 'spirt-r1-p3'],
    temporalUi: 'http://127.0.0.1:8233',
    totalMs: 4000,
  });

  it('keeps the existing fields', () => {
    expect(summary).toMatchObject({ run: 'r1', model: 'softmax', peers: 3, epochs: 2, totalMs: 4000 });
    expect(summary.epochMs).toEqual([1200, 1500]);
    expect(summary.testAccuracy).toBeCloseTo(0.9);
  });

  it('epochs use the records of the peers that have them; computeMs and phases are the slowest peer', () => {
    expect(summary.perEpoch[1]).toMatchObject({
      epoch: 2,
      trainLoss: 0.5,
      computeMs: 700,
      phases: { compute: 700, barrier: 300 },
    });
  });

  it('membership once, outcomes per peer, the final active set', () => {
    expect(summary.membership).toEqual([removedP2]);
    expect(summary.peerOutcomes).toEqual([
      { peer: 'p1', outcome: 'completed', endReason: null },
      { peer: 'p2', outcome: 'removed', endReason: 'removed by operator' },
      { peer: 'p3', outcome: 'completed', endReason: null },
    ]);
    expect(summary.finalActivePeers).toEqual(['p1', 'p3']);
  });

  it('a readmitted peer is active again; ids sort numerically', () => {
    const events: MembershipEvent[] = [
      removedP2,
      { epoch: 3, step: 0, peer: 'p2', change: 'added', reason: 'readmitted by operator' },
      { epoch: 3, step: 0, peer: 'p10', change: 'added', reason: 'admitted by operator' },
    ];
    expect(applyMembership(['p1', 'p2', 'p3'], mergeMembership([events, events.slice(0, 1)]))).toEqual([
      'p1',
      'p2',
      'p3',
      'p10',
    ]);
  });
});

describe('epoch lines while following', () => {
  it('waits for every running peer, not for peers that left', () => {
    const reporter = new EpochReporter(3);
    expect(
      reporter.next(
        [
          { history: [record(1)], running: true },
          { history: [], running: true },
        ],
        false,
      ),
    ).toEqual([]);
    // p2 left the run without a record of epoch 1: p1's record is enough.
    expect(
      reporter.next(
        [
          { history: [record(1)], running: true },
          { history: [], running: false },
        ],
        false,
      ),
    ).toEqual(['epoch 1/3  train loss 1.0000  test accuracy 0.9000  1.0 s']);
    expect(
      reporter.next(
        [
          { history: [record(1)], running: true },
          { history: [], running: false },
        ],
        false,
      ),
    ).toEqual([]);
    // At the end, every epoch anyone recorded, once.
    expect(reporter.next([{ history: [record(1), record(2)], running: false }], true)).toHaveLength(1);
  });

  it('formats like the README', () => {
    expect(epochLine(3, 3, [record(3, { trainLoss: 0.08, testAccuracy: 0.9798, epochMs: 35_500 })])).toBe(
      'epoch 3/3  train loss 0.0800  test accuracy 0.9798  35.5 s',
    );
    expect(membershipLine(removedP2)).toBe('membership: epoch 2 step 5: p2 removed (removed by operator)');
  });
});
