// The convergence check of paper III.3.9 (every evalEvery epochs): pure, evaluated inside the workflow.
import type { RunConfig } from '../config/schema';

export interface ConvergenceCheck {
  epoch: number;
  loss: number;
  accuracy: number;
}

/**
 * The configured stopping rule over the checks so far (the latest must be of `epoch`): a reason string when it
 * holds, else null. Rules: `targetAccuracy` reached; or the best test loss of the last `plateauChecks` checks is
 * less than `plateauMinDelta` below the best loss before them.
 */
export function convergence(
  checks: readonly ConvergenceCheck[],
  epoch: number,
  config: Pick<RunConfig, 'targetAccuracy' | 'plateauChecks' | 'plateauMinDelta'>,
): string | null {
  const latest = checks[checks.length - 1];
  if (!latest || latest.epoch !== epoch) return null;
  if (config.targetAccuracy !== undefined && latest.accuracy >= config.targetAccuracy)
    return `converged: test accuracy ${latest.accuracy.toFixed(4)} >= ${config.targetAccuracy} at epoch ${epoch}`;
  const k = config.plateauChecks;
  if (k !== undefined && checks.length > k) {
    const best = Math.min(...checks.slice(0, checks.length - k).map((c) => c.loss));
    const recent = Math.min(...checks.slice(-k).map((c) => c.loss));
    if (best - recent < config.plateauMinDelta)
      return `converged: test loss improved by less than ${config.plateauMinDelta} over ${k} checks (epoch ${epoch})`;
  }
  return null;
}
