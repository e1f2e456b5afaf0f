// The distance-based rules decide on the Gram matrix; here each is checked against a direct implementation on
// the vectors themselves (written independently, in the definitions' own terms), on its preconditions, and on
// what it is for: an outlier does not drag the result.
import { bulyanSelect } from '../../lib/aggregation/bulyan';
import { centeredClipping } from '../../lib/aggregation/centered-clipping';
import { geoMed } from '../../lib/aggregation/geomed';
import { decideOnGram } from '../../lib/aggregation/decide';
import { composeWeights, gramOf, transformGram, weightedSum } from '../../lib/aggregation/gram';
import { krum } from '../../lib/aggregation/krum';
import { multiKrum } from '../../lib/aggregation/multi-krum';
import { nnm } from '../../lib/aggregation/nnm';
import { staticClipping } from '../../lib/aggregation/static-clipping';
import { zenoWeights } from '../../lib/aggregation/zeno';

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}
const random = rng(7);
const vec = (d: number, scale = 1, shift = 0) => Float32Array.from({ length: d }, () => shift + scale * random());
const sub = (a: Float32Array, b: Float32Array) => a.map((x, i) => x - b[i]);
const norm = (a: Float32Array) => Math.sqrt(a.reduce((s, x) => s + x * x, 0));
const mean = (vs: Float32Array[]) => vs[0].map((_, k) => vs.reduce((s, v) => s + v[k], 0) / vs.length);
const close = (a: Float32Array, b: Float32Array, tol = 1e-4) =>
  expect(norm(sub(a, b))).toBeLessThan(tol * (1 + norm(b)));

/** 5 honest gradients around 1.0 and, last, one far away. */
const honest = Array.from({ length: 5 }, () => vec(64, 0.2, 1));
const outlier = vec(64, 1, -50);
const inputs = [...honest, outlier];
const g = gramOf(inputs);

function krumDirect(vs: Float32Array[], f: number): number[] {
  return vs.map((v, i) => {
    const d = vs.filter((_, j) => j !== i).map((w) => norm(sub(v, w)) ** 2);
    return d
      .sort((a, b) => a - b)
      .slice(0, vs.length - f - 2)
      .reduce((s, x) => s + x, 0);
  });
}

describe('Krum and Multi-Krum', () => {
  it('pick what the direct definition picks, never the outlier', () => {
    const scores = krumDirect(inputs, 1);
    const best = scores.indexOf(Math.min(...scores));
    const w = krum(1).weights(g);
    expect(w.indexOf(1)).toBe(best);
    expect(w[5]).toBe(0);
    const order = scores
      .map((s, i) => [s, i])
      .sort((a, b) => a[0] - b[0])
      .map(([, i]) => i);
    const m = multiKrum(1, 3).weights(g);
    close(weightedSum(inputs, m), mean(order.slice(0, 3).map((i) => inputs[i])));
  });

  it('check n >= 2f + 3, and m', () => {
    expect(() => krum(1).check(4)).toThrow(/krum needs n >= 2f \+ 3: with f = 1 at least 5 inputs, got 4/);
    expect(() => krum(1).check(5)).not.toThrow();
    expect(() => multiKrum(1, 6).check(5)).toThrow(/m must be 1..5/);
    expect(() => krum(-1).check(5)).toThrow(/non-negative integer/);
  });

  it('tie rule: equal scores go to the lowest index', () => {
    const same = Array.from({ length: 5 }, () => Float32Array.from([1, 2, 3]));
    expect(krum(1).weights(gramOf(same))).toEqual([1, 0, 0, 0, 0]);
  });
});

describe('geometric median (Weiszfeld)', () => {
  it('equals Weiszfeld run on the vectors, and stays with the honest inputs', () => {
    let z = mean(inputs);
    for (let it = 0; it < 100; it++) {
      const b = inputs.map((v) => 1 / Math.max(norm(sub(v, z)), 1e-12));
      const total = b.reduce((s, x) => s + x, 0);
      z = inputs[0].map((_, k) => inputs.reduce((s, v, i) => s + (b[i] * v[k]) / total, 0));
    }
    const got = weightedSum(inputs, geoMed(1, { tolerance: 1e-9, maxIterations: 100 }).weights(g));
    close(got, z, 1e-3);
    expect(norm(sub(got, mean(honest)))).toBeLessThan(0.5);
    expect(norm(sub(mean(inputs), mean(honest)))).toBeGreaterThan(50);
  });

  it('checks 2f < n', () => {
    expect(() => geoMed(2).check(4)).toThrow(/2f < n/);
  });
});

describe('centered clipping', () => {
  /** The definition on the vectors: rounds from v0, radius tau or the median of the distances. */
  const iterate = (vs: Float32Array[], v0: Float32Array, tau: number | 'auto', rounds: number) => {
    let v = Float32Array.from(v0);
    for (let it = 0; it < rounds; it++) {
      const d = vs.map((x) => norm(sub(x, v)));
      const sorted = [...d].sort((a, b) => a - b);
      const m = sorted.length >> 1;
      const radius = tau !== 'auto' ? tau : sorted.length % 2 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
      const step = vs.map((x, i) => sub(x, v).map((y) => y * Math.min(1, radius / d[i])));
      v = v.map((vi, k) => vi + step.reduce((s, x) => s + x[k], 0) / vs.length);
    }
    return v;
  };

  it('equals the iteration on the vectors from the anchor (scaled) or from 0, and bounds the outlier', () => {
    const anchor = honest[0].map((x, k) => 8 * x + 2 * honest[1][k]);
    for (const tau of [2, 'auto'] as const) {
      const rule = centeredClipping(1, tau, 3);
      expect(rule.anchored).toBe(true);
      // From 0: the anchor is the zero vector.
      const zero = new Float32Array(64);
      const fromZero = weightedSum([...inputs, zero], rule.weights(gramOf([...inputs, zero])));
      close(fromZero, iterate(inputs, zero, tau, 3), 1e-3);
      // From 0.1 x anchor, through the shared decision (the anchor's row scaled in the Gram matrix).
      const d = decideOnGram(
        { aggregation: 'centered-clipping', byzantineF: 1, centeredClippingTau: tau },
        { kind: 'vector', rule },
        1,
        gramOf([...inputs, anchor]),
        0.1,
      );
      if (d.kind !== 'weighted') throw new Error('centered clipping decides by weights');
      const got = weightedSum([...inputs, anchor], d.weights);
      const want = iterate(
        inputs,
        anchor.map((x) => 0.1 * x),
        tau,
        3,
      );
      close(got, want, 1e-3);
      // The outlier (|outlier - v| ~ 400) moves v by at most radius / n per round.
      expect(norm(sub(got, mean(honest)))).toBeLessThan(3);
    }
    expect(() => centeredClipping(1, 0).check(6)).toThrow(/tau must be > 0/);
  });

  it("tau 'auto' keeps a scaled sign flip out whatever the gradients' scale", () => {
    for (const scale of [1e-3, 1, 1e3]) {
      const hs = honest.slice(0, 3).map((h) => h.map((x) => x * scale));
      const flipped = mean(hs).map((x) => -3 * x);
      const vs = [...hs, flipped];
      const prev = mean(hs);
      const rule = centeredClipping(1, 'auto', 3);
      const out = weightedSum([...vs, prev], rule.weights(gramOf([...vs, prev])));
      // The plain mean would be 0 (the flip cancels the honest ones); clipped, the result stays near them.
      expect(norm(sub(out, mean(hs))) / norm(mean(hs))).toBeLessThan(0.35);
    }
  });
});

describe('pre-aggregators', () => {
  it('static clipping scales each input to norm <= c', () => {
    const m = staticClipping(3).mix(g);
    const clipped = m.map((row) => weightedSum(inputs, row));
    for (const [i, c] of clipped.entries()) {
      expect(norm(c)).toBeLessThanOrEqual(3 + 1e-4);
      if (norm(inputs[i]) <= 3) close(c, inputs[i]);
    }
  });

  it('NNM replaces each input by the mean of its n - f nearest, and composes with a rule', () => {
    const m = nnm(1).mix(g);
    const direct = inputs.map((v) => {
      const order = inputs.map((w, j) => [norm(sub(v, w)), j]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      return mean(order.slice(0, 5).map(([, j]) => inputs[j]));
    });
    m.forEach((row, i) => close(weightedSum(inputs, row), direct[i]));
    // NNM, then Krum on the mixed inputs: the weights over the original inputs.
    const w = composeWeights(krum(1).weights(transformGram(g, m)), m);
    expect(w[5]).toBeLessThan(0.25);
  });
});

describe('Bulyan selection', () => {
  it('needs n >= 4f + 3 and picks n - 2f inputs without the outlier', () => {
    expect(() => bulyanSelect(g, 1)).toThrow(/n >= 4f \+ 3: with f = 1 at least 7 inputs, got 6/);
    const seven = [...Array.from({ length: 6 }, () => vec(32, 0.2, 1)), vec(32, 1, 40)];
    const sel = bulyanSelect(gramOf(seven), 1);
    expect(sel.selected).toHaveLength(5);
    expect(new Set(sel.selected).size).toBe(5);
    expect(sel.selected).not.toContain(6);
    expect(sel.meamedF).toBe(2);
  });
});

describe('properties of every Gram rule', () => {
  const rules = [krum(1), multiKrum(1), geoMed(1, { tolerance: 1e-12, maxIterations: 500 }), centeredClipping(1, 1, 5)];
  // An anchored rule (centered clipping) starts from 0 here: the zero vector as its anchor.
  const result = (rule: (typeof rules)[number], vs: Float32Array[]) => {
    const all = rule.anchored ? [...vs, new Float32Array(vs[0].length)] : vs;
    return weightedSum(all, rule.weights(gramOf(all)));
  };

  it('permutation invariance: shuffling the inputs does not change the result', () => {
    const vs = Array.from({ length: 6 }, () => vec(16, 1, 0.5));
    const perm = [3, 0, 5, 1, 4, 2];
    for (const rule of rules)
      close(
        result(
          rule,
          perm.map((i) => vs[i]),
        ),
        result(rule, vs),
        1e-4,
      );
  });

  it('identical honest inputs and no Byzantine input: every rule returns that input', () => {
    const x = vec(16, 1, 0.5);
    const vs = Array.from({ length: 6 }, () => Float32Array.from(x));
    for (const rule of [...rules, centeredClipping(1, 100, 1)]) {
      const out = result(rule, vs);
      // (Centered clipping moves from 0 by at most tau per iteration: |x| ~ 2.3 is reached within 5 of tau = 1.)
      close(out, x, 1e-5);
    }
    const m = nnm(1).mix(gramOf(vs));
    m.forEach((row) => close(weightedSum(vs, row), x, 1e-6));
    expect(bulyanSelect(gramOf([...vs, x]), 1).selected).toHaveLength(5);
  });
});

describe('Zeno selection', () => {
  it('keeps the n - b highest scores; ties in index order; NaN ranks last; needs b < n', () => {
    expect(zenoWeights([0.3, -5, 0.1, 0.2], 1)).toEqual([1 / 3, 0, 1 / 3, 1 / 3]);
    expect(zenoWeights([1, 1, 1, 1], 2)).toEqual([0.5, 0.5, 0, 0]);
    expect(zenoWeights([NaN, 0, -1], 1)).toEqual([0, 0.5, 0.5]);
    expect(() => zenoWeights([1, 2], 2)).toThrow(/0 <= b < n/);
  });
});
