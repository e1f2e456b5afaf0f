import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors/config-error';
import { parseRunConfig } from './parse';
import type { RunConfig } from './schema';

export { defaultRunId, formatConfigIssues, parseRunConfig } from './parse';

/** Reads a JSON config file; `overrides` (from CLI flags) win over the file. */
export function loadRunConfig(path: string | undefined, overrides: Record<string, unknown> = {}): RunConfig {
  let fromFile: Record<string, unknown> = {};
  if (path) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new ConfigError(`config: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    try {
      fromFile = JSON.parse(text) as Record<string, unknown>;
    } catch (err) {
      throw new ConfigError(`config: ${path} is not valid JSON: ${(err as Error).message}`);
    }
    if (typeof fromFile !== 'object' || fromFile === null || Array.isArray(fromFile)) {
      throw new ConfigError(`config: ${path} must hold a JSON object`);
    }
  }
  return parseRunConfig({ ...fromFile, ...overrides });
}
