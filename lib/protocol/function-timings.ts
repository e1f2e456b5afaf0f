import type { ComputeGradientResult } from './functions';

/**
 * The step's longest function call and its parts (reading the model, the engine, writing the gradient), as
 * step timings. Pure: used by the workflow and by the fused step activity.
 */
export function slowestCallTimings(results: ComputeGradientResult[]): Record<string, number> {
  let slowest: ComputeGradientResult | null = null;
  for (const r of results) if (slowest === null || r.timings.totalMs > slowest.timings.totalMs) slowest = r;
  return {
    functions: slowest?.timings.totalMs ?? 0,
    functionRead: slowest?.timings.readMs ?? 0,
    functionEngine: slowest?.timings.computeMs ?? 0,
    functionWrite: slowest?.timings.writeMs ?? 0,
  };
}
