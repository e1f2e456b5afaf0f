// A single-process replay of the distributed schedule, to check the peers' parameters against.
import { robustReplay } from '../../bench/robust-replay';
import type { parseRunConfig } from '../../lib/config';

/** Replays a run in one process (bench/robust-replay.ts, without the per-epoch evaluation). */
export async function referenceTraining(
  config: ReturnType<typeof parseRunConfig>,
): Promise<{ params: Float32Array; buffers: Float32Array }> {
  const { params, buffers } = await robustReplay(config, { evaluate: false });
  return { params, buffers };
}

/** Largest |a - b| beyond a tolerance of 1e-5 + 1e-4 |b| (0 when everything is within it). */
export function excess(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) - (1e-5 + 1e-4 * Math.abs(b[i])));
  return worst;
}
