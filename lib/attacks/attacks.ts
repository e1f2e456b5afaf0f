// Attacks for robustness experiments (ARCHITECTURE.md section 7). A Byzantine peer is an ordinary peer whose
// published averaged gradient is altered after it is computed (and signed as usual: signatures prove who
// sent a gradient, not that it is honest). Label flipping acts earlier, on the training labels.
//
// The attacker is not omniscient here: ALIE and IPM estimate the honest gradients' mean and spread from the
// attacker's own shard gradients of the step (it holds `shardsPerPeer` honest gradients), not from the
// other peers' gradients, which it could only read after they are published.
import { ConfigError } from '../errors/config-error';

export const ATTACKS = ['signflip', 'gaussian', 'alie', 'ipm', 'labelflip'] as const;
export type AttackKind = (typeof ATTACKS)[number];

export interface AttackSpec {
  attack: AttackKind;
  /** signflip: the gradient is replaced by -scale * g. @default 1 */
  scale?: number;
  /** gaussian: the gradient is replaced by N(mu, sigma^2) per coordinate. @default 0 and 1 */
  mu?: number;
  sigma?: number;
  /**
   * alie: mean - z * sigma per coordinate, sigma the standard deviation of the honest published gradients
   * (estimated from the attacker's own shard gradients). @default z_max from n and f (Baruch et al. 2019)
   */
  z?: number;
  /** ipm: -epsilon * mean. @default 0.1 */
  epsilon?: number;
}

/** @throws ConfigError naming the bad field */
export function checkAttack(spec: AttackSpec, where: string): void {
  if (!ATTACKS.includes(spec.attack))
    throw new ConfigError(`${where}: attack must be one of ${ATTACKS.join(', ')}, got "${String(spec.attack)}"`);
  for (const k of ['scale', 'mu', 'sigma', 'z', 'epsilon'] as const) {
    const v = spec[k];
    if (v !== undefined && !Number.isFinite(v)) throw new ConfigError(`${where}: ${k} must be a finite number`);
  }
  if (spec.sigma !== undefined && spec.sigma < 0) throw new ConfigError(`${where}: sigma must be >= 0`);
}

/** Inverse of the standard normal CDF (Acklam's rational approximation, |error| < 1.2e-9). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError('normalQuantile: p must be in (0, 1)');
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239,
  ];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (
      (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
      ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
    );
  }
  if (p > 1 - lo) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) /
    (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
  );
}

/** ALIE's default z for n peers of which f are Byzantine: s = floor(n/2 + 1) - f, z = Phi^-1((n - s) / n). */
export function alieZ(n: number, f: number): number {
  const s = Math.floor(n / 2 + 1) - f;
  return normalQuantile((n - s) / n);
}

/** A seeded uniform generator (mulberry32) and standard normals by Box-Muller. */
function normals(seed: number): () => number {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

/**
 * The gradient a Byzantine peer publishes instead of its honest average `avg`, given its honest shard
 * gradients `shards` (ALIE and IPM estimate the honest mean and spread from them), the network size n and f.
 * `seed` makes the Gaussian attack reproducible. Label flipping returns `avg` unchanged (it acts on labels).
 */
export function attackGradient(
  spec: AttackSpec,
  avg: Float32Array,
  shards: readonly Float32Array[],
  ctx: { n: number; f: number; seed: number },
): Float32Array {
  const d = avg.length;
  switch (spec.attack) {
    case 'signflip': {
      const s = spec.scale ?? 1;
      return avg.map((x) => -s * x);
    }
    case 'gaussian': {
      const next = normals(ctx.seed);
      const mu = spec.mu ?? 0;
      const sigma = spec.sigma ?? 1;
      return Float32Array.from({ length: d }, () => mu + sigma * next());
    }
    case 'alie': {
      // sigma is the spread of what honest peers publish: each publishes the mean of k shard gradients, so
      // the shards' sample standard deviation is divided by sqrt(k).
      const z = spec.z ?? alieZ(ctx.n, ctx.f);
      const k = shards.length;
      return avg.map((m, i) => {
        let v = 0;
        for (const g of shards) v += (g[i] - m) * (g[i] - m);
        return m - z * Math.sqrt(k > 1 ? v / (k - 1) / k : 0);
      });
    }
    case 'ipm': {
      const e = spec.epsilon ?? 0.1;
      return avg.map((x) => -e * x);
    }
    case 'labelflip':
      return avg;
  }
}

/** Label flipping: class c becomes (classes - 1 - c). */
export function flipLabels(labels: Uint8Array, classes = 10): void {
  for (let i = 0; i < labels.length; i++) labels[i] = classes - 1 - labels[i];
}
