import { ConfigError } from '../errors/config-error';

const UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * The expiry time a CLI flag names: a duration from `now` (`30m`, `24h`, `7d`) or an ISO 8601 date-time
 * with a time zone (`2026-07-01T00:00:00Z`).
 * @throws ConfigError when the text is neither, or names a time not after `now`
 */
export function parseExpiry(text: string, now: Date = new Date()): Date {
  const trimmed = text.trim();
  const duration = /^(\d+)([mhd])$/.exec(trimmed);
  let at: Date;
  if (duration) {
    at = new Date(now.getTime() + Number(duration[1]) * UNIT_MS[duration[2]]);
  } else if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(trimmed)) {
    at = new Date(trimmed);
  } else {
    throw new ConfigError(
      `expiry "${text}": give a duration (30m, 24h, 7d) or an ISO date-time with a zone (2026-07-01T00:00:00Z)`,
    );
  }
  if (Number.isNaN(at.getTime())) throw new ConfigError(`expiry "${text}" is not a valid date`);
  if (at.getTime() <= now.getTime()) throw new ConfigError(`expiry "${text}" is not in the future`);
  return at;
}
