import { alieZ, attackGradient, checkAttack, flipLabels, normalQuantile } from '../../lib/attacks/attacks';
import { parseRunConfig } from '../../lib/config';
import { initialState } from '../../lib/protocol/start';

const avg = Float32Array.from([1, -2, 0.5]);
const shards = [Float32Array.from([1.5, -2, 0]), Float32Array.from([0.5, -2, 1])];
const ctx = { n: 7, f: 1, seed: 1 };

describe('attacks', () => {
  it('sign flip negates and scales; IPM sends -epsilon times the mean', () => {
    expect(Array.from(attackGradient({ attack: 'signflip', scale: 3 }, avg, shards, ctx))).toEqual([-3, 6, -1.5]);
    expect(Array.from(attackGradient({ attack: 'ipm', epsilon: 0.5 }, avg, shards, ctx))).toEqual([-0.5, 1, -0.25]);
  });

  it('ALIE: mean - z * sigma of a published (k-shard mean) gradient, z from n and f by default', () => {
    expect(normalQuantile(0.975)).toBeCloseTo(1.959964, 5);
    expect(normalQuantile(0.5)).toBeCloseTo(0, 9);
    // n = 7, f = 1: s = floor(4.5) - 1 = 3, z = Phi^-1(4/7).
    expect(alieZ(7, 1)).toBeCloseTo(normalQuantile(4 / 7), 12);
    const out = attackGradient({ attack: 'alie', z: 2 }, avg, shards, ctx);
    // Two shards: their sample std over sqrt(2), the spread of a 2-shard average.
    const std0 = Math.sqrt(((1.5 - 1) ** 2 + (0.5 - 1) ** 2) / 1) / Math.sqrt(2);
    expect(out[0]).toBeCloseTo(1 - 2 * std0, 6);
    expect(out[1]).toBeCloseTo(-2, 6);
  });

  it('Gaussian noise is reproducible from its seed and has the asked spread', () => {
    const big = new Float32Array(20000);
    const a = attackGradient({ attack: 'gaussian', sigma: 2 }, big, [], ctx);
    const b = attackGradient({ attack: 'gaussian', sigma: 2 }, big, [], ctx);
    expect(a).toEqual(b);
    const mean = a.reduce((s, x) => s + x, 0) / a.length;
    const sd = Math.sqrt(a.reduce((s, x) => s + (x - mean) ** 2, 0) / a.length);
    expect(Math.abs(mean)).toBeLessThan(0.05);
    expect(sd).toBeGreaterThan(1.9);
    expect(sd).toBeLessThan(2.1);
  });

  it('label flipping maps class c to 9 - c and leaves the gradient to the training', () => {
    const labels = Uint8Array.from([0, 3, 9]);
    flipLabels(labels);
    expect(Array.from(labels)).toEqual([9, 6, 0]);
    expect(attackGradient({ attack: 'labelflip' }, avg, shards, ctx)).toBe(avg);
  });

  it('bad specs and unknown attacks are refused by name', () => {
    expect(() => checkAttack({ attack: 'nope' as never }, 'x')).toThrow(/attack must be one of signflip/);
    expect(() => parseRunConfig({ byzantine: [{ peer: 'p2', attack: 'flood' }] })).toThrow(/byzantine/);
  });

  it('only the Byzantine peer gets its attack in its state', () => {
    const input = { run: 'r1', peers: 4, byzantine: [{ peer: 'p2', attack: 'signflip', scale: 2 }] };
    expect(initialState({ ...input, peer: 'p2' }).attack).toEqual({ attack: 'signflip', scale: 2 });
    expect(initialState({ ...input, peer: 'p1' }).attack).toBeUndefined();
  });
});
