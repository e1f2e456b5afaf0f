// The distance-based rules end to end on a real redis-server: the Gram matrix and the weighted sum run inside
// Redis (sliced Lua), the decision in TypeScript, and the result equals the reference computed on the vectors.
// Both in-database paths (module server, Lua) and the client baseline agree.
import { MockActivityEnvironment } from '@temporalio/testing';
import {
  makeAggregateGradients,
  type AggregateGradientsInput,
  type AggregateGradientsResult,
} from '../../activities/aggregate-gradients';
import { bulyanSelect } from '../../lib/aggregation/bulyan';
import { centeredClipping } from '../../lib/aggregation/centered-clipping';
import { geoMed } from '../../lib/aggregation/geomed';
import { gramOf, weightedSum } from '../../lib/aggregation/gram';
import { krum } from '../../lib/aggregation/krum';
import { multiKrum } from '../../lib/aggregation/multi-krum';
import { nnm } from '../../lib/aggregation/nnm';
import { aggregateImpl } from '../../lib/aggregation/reference';
import type { RunPlan } from '../../lib/protocol/plan';
import { runKeys } from '../../lib/redis/keys';
import { PeerDirectory } from '../../lib/redis/peer-directory';
import { gramTensors, resolveTensorOpsPath, weightedSumTensors, type TensorOpsPath } from '../../lib/redis/tensor-ops';
import { bufferToFloat32, float32ToBuffer } from '../../lib/tensor/float32';
import { testDeps } from '../helpers/deps';
import { startTestRedis, type TestRedis } from '../helpers/servers';

const PEERS = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7'];
const D = 70_001; // more than one Lua slice, not a multiple of anything
const run = 'robust1';
const keys = runKeys(run);

function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0), s / 2 ** 32 - 0.5);
}
const random = rng(3);
/** Six honest gradients around 0.1 and one Byzantine (sign-flipped and scaled), p7. */
const honest = Array.from({ length: 6 }, () => Float32Array.from({ length: D }, () => 0.1 + 0.05 * random()));
const byzantine = honest[0].map((x) => -10 * x);
const vectors = [...honest, byzantine];

describe('robust rules inside Redis', () => {
  let server: TestRedis;
  let directory: PeerDirectory;
  const plan = (path: TensorOpsPath): RunPlan => ({
    run,
    model: 'softmax',
    dataset: 'mnist',
    peers: 7,
    rank: 0,
    shardsPerPeer: 1,
    batchSize: 1,
    seed: 1,
    ttlSeconds: 60,
    path,
    trainCount: 7,
    testCount: 1,
    stepsPerEpoch: 1,
    hasBuffers: false,
  });

  beforeAll(async () => {
    server = await startTestRedis();
    directory = new PeerDirectory({ p1: server.endpoint });
    const own = await directory.connection('p1');
    await own.set(keys.plan, JSON.stringify(plan('auto')));
    await own.set(keys.averagedGradient(1, 0), float32ToBuffer(vectors[0]));
    for (let i = 1; i < PEERS.length; i++)
      await own.set(keys.peerGradient(1, 0, PEERS[i]), float32ToBuffer(vectors[i]));
  });
  afterAll(async () => {
    await directory.close();
    await server.stop();
  });

  const sources = PEERS.map((p, i) => (i === 0 ? keys.averagedGradient(1, 0) : keys.peerGradient(1, 0, p)));
  const aggregate = async (input: Partial<AggregateGradientsInput>) => {
    const env = new MockActivityEnvironment();
    const full: AggregateGradientsInput = {
      run,
      epoch: 1,
      step: 0,
      peers: PEERS,
      aggregation: 'mean',
      byzantineF: 1,
      ...input,
    };
    const result = (await env.run(makeAggregateGradients(testDeps('p1', directory)), full)) as AggregateGradientsResult;
    const own = await directory.connection('p1');
    return { result, out: bufferToFloat32((await own.getBuffer(keys.aggregatedGradient(1, 0))) as Buffer) };
  };
  const near = (a: Float32Array, b: Float32Array, tol = 1e-5) => {
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) - tol * (1 + Math.abs(b[i])));
    expect(worst).toBeLessThanOrEqual(0);
  };

  it('the Gram matrix and the weighted sum match the reference on every path', async () => {
    const own = await directory.connection('p1');
    const expected = gramOf(vectors);
    // The test servers load the module: 'module' is SPIRT.GRAM / SPIRT.WSUM, 'lua' the sliced scripts.
    expect(await resolveTensorOpsPath(own)).toBe('module');
    for (const path of ['module', 'lua', 'client'] as const) {
      const g = await gramTensors(own, sources, { path });
      g.forEach((row, i) =>
        row.forEach((x, j) => expect(Math.abs(x - expected[i][j])).toBeLessThan(1e-9 * (1 + Math.abs(expected[i][j])))),
      );
      const w = [0.5, 0, 0.25, 0, 0, 0.25, -0.1];
      await weightedSumTensors(own, 'wsum:test', sources, w, { path });
      near(bufferToFloat32((await own.getBuffer('wsum:test')) as Buffer), weightedSum(vectors, w));
    }
  });

  it('krum, multi-krum and geomed: the database result equals the rule on the vectors', async () => {
    const g = gramOf(vectors);
    const cases = [
      { input: { aggregation: 'krum' as const }, rule: krum(1) },
      { input: { aggregation: 'multi-krum' as const, multiKrumM: 3 }, rule: multiKrum(1, 3) },
      { input: { aggregation: 'geomed' as const }, rule: geoMed(1) },
    ];
    for (const c of cases) {
      const { result, out } = await aggregate(c.input);
      const w = c.rule.weights(g);
      near(out, weightedSum(vectors, w));
      expect(result.weights?.p7 ?? 0).toBeLessThan(0.2);
    }
  });

  it('centered clipping starts from the previous aggregate: (1 - momentum) x the momentum buffer in Redis', async () => {
    const own = await directory.connection('p1');
    const buffer = honest[1].map((x) => 10 * x);
    const scaled = buffer.map((x) => 0.1 * x);
    for (const tau of [1, 'auto'] as const) {
      const rule = centeredClipping(1, tau, 3);
      // No momentum buffer yet (the first step): from 0.
      await own.del(keys.momentum);
      const zero = new Float32Array(D);
      const first = await aggregate({ aggregation: 'centered-clipping', centeredClippingTau: tau, momentum: 0.9 });
      near(first.out, weightedSum([...vectors, zero], rule.weights(gramOf([...vectors, zero]))));
      await own.set(keys.momentum, float32ToBuffer(buffer));
      const { result, out } = await aggregate({
        aggregation: 'centered-clipping',
        centeredClippingTau: tau,
        momentum: 0.9,
      });
      near(out, weightedSum([...vectors, scaled], rule.weights(gramOf([...vectors, scaled]))));
      expect(result.weights?.p7 ?? 0).toBeLessThan(0.2);
      // The start point matters: from 0 the result differs.
      expect(Math.abs(out[0] - first.out[0])).toBeGreaterThan(1e-4);
    }
    await own.del(keys.momentum);
  });

  it('bulyan, and a per-coordinate rule behind NNM: written-out inputs, then the per-coordinate kernel', async () => {
    const g = gramOf(vectors);
    const sel = bulyanSelect(g, 1).selected;
    expect(sel).not.toContain(6);
    const bulyan = await aggregate({ aggregation: 'bulyan' });
    near(
      bulyan.out,
      aggregateImpl(
        sel.map((i) => vectors[i]),
        { kind: 'meamed', f: 2 },
        'f32',
      ),
      1e-5,
    );

    const m = nnm(1).mix(g);
    const mixed = m.map((row) => weightedSum(vectors, row));
    const withNnm = await aggregate({ aggregation: 'trimmed-mean', preAggregation: ['nnm'] });
    near(withNnm.out, aggregateImpl(mixed, { kind: 'trimmedMean', f: 1 }, 'f32'), 1e-4);
    const own = await directory.connection('p1');
    expect(await own.keys(`${keys.aggregatedGradient(1, 0)}:mixed:*`)).toEqual([]);
  });

  it('a non-finite peer gradient is rejected, and a rule whose precondition fails at this n lowers f', async () => {
    const own = await directory.connection('p1');
    const bad = Float32Array.from(vectors[3]);
    bad[12345] = NaN;
    await own.set(keys.peerGradient(1, 0, 'p4'), float32ToBuffer(bad));
    await expect(aggregate({ aggregation: 'krum' })).rejects.toThrow(/non-finite/);
    await own.set(keys.peerGradient(1, 0, 'p4'), float32ToBuffer(vectors[3]));
    // Bulyan needs n >= 4f + 3 = 7 at f = 1; with 5 peers it runs at f = 0.
    const { result } = await aggregate({ aggregation: 'bulyan', peers: PEERS.slice(0, 5) });
    expect(result.f).toBe(0);
  });
});
