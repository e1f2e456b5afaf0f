/** Parameter initialisation: PyTorch's default schemes driven by a small seeded PRNG. */

export type Init =
  { kind: 'uniform'; bound: number } | { kind: 'normal'; std: number } | { kind: 'const'; value: number };

/** A seeded generator of uniform [0, 1) floats (sfc32 seeded through splitmix32; fast and well mixed). */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  const split = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = split();
  let b = split();
  let c = split();
  let d = split();
  return () => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t / 4294967296;
  };
}

/** Fills `out` according to `init` using `rand`. Normal samples use Box-Muller. */
export function fillInit(out: Float32Array, init: Init, rand: () => number): void {
  if (init.kind === 'const') {
    out.fill(init.value);
  } else if (init.kind === 'uniform') {
    for (let i = 0; i < out.length; i++) out[i] = (2 * rand() - 1) * init.bound;
  } else {
    for (let i = 0; i < out.length; i += 2) {
      const u = 1 - rand();
      const r = Math.sqrt(-2 * Math.log(u)) * init.std;
      const t = 2 * Math.PI * rand();
      out[i] = r * Math.cos(t);
      if (i + 1 < out.length) out[i + 1] = r * Math.sin(t);
    }
  }
}

/** nn.Conv2d / nn.Linear default: kaiming_uniform(a = sqrt(5)) => U(-1/sqrt(fan_in), 1/sqrt(fan_in)); same bound for bias. */
export function torchDefault(fanIn: number): Init {
  return { kind: 'uniform', bound: 1 / Math.sqrt(fanIn) };
}

/** kaiming_normal_(nonlinearity = 'relu'): std = sqrt(2 / fan). */
export function kaimingNormal(fan: number): Init {
  return { kind: 'normal', std: Math.sqrt(2 / fan) };
}
