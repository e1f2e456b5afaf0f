/** A run config or CLI flag is invalid. The message names the field and the allowed values. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}
