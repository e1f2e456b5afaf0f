// Run config validation without I/O: shared by the CLI and by the workflow (which validates its own input).
import { z } from 'zod';
import { ConfigError } from '../errors/config-error';
import { DEFAULT_LEARNING_RATE } from '../models/names';
import { runConfigSchema, type RunConfig } from './schema';

/** One line per problem: `config field "model": expected one of "softmax" | "mlp" ...`. */
export function formatConfigIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const field = issue.path.length > 0 ? issue.path.join('.') : '(root)';
      if (issue.code === 'unrecognized_keys') {
        const allowed = Object.keys(runConfigSchema.shape).join(', ');
        return `config: unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}; allowed fields: ${allowed}`;
      }
      if (issue.code === 'invalid_value' && 'values' in issue) {
        const allowed = (issue.values as unknown[]).map((v) => JSON.stringify(v)).join(' | ');
        return `config field "${field}": allowed values are ${allowed}`;
      }
      return `config field "${field}": ${issue.message}`;
    })
    .join('\n');
}

/** Validates a plain object into a complete run config (defaults filled, run id assigned). */
export function parseRunConfig(input: unknown, now: Date = new Date()): RunConfig {
  const result = runConfigSchema.safeParse(input ?? {});
  if (!result.success) throw new ConfigError(formatConfigIssues(result.error));
  const config = result.data;
  if (config.aggregation === 'zeno' && config.preAggregation.length > 0)
    throw new ConfigError(
      'config field "preAggregation": zeno scores the peers\' own gradients and takes no pre-aggregator (got ' +
        config.preAggregation.join(', ') +
        ')',
    );
  const run = config.run ?? defaultRunId(now);
  return { ...config, run, learningRate: config.learningRate ?? DEFAULT_LEARNING_RATE[config.model] };
}

export function defaultRunId(now: Date): string {
  const iso = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `r${iso}`.toLowerCase();
}
