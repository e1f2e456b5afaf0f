import pino from 'pino';

/** The project logger: JSON lines to stderr; level from SPIRT_LOG_LEVEL. Never log secrets. */
export const logger = pino(
  {
    name: 'spirt',
    level: process.env.SPIRT_LOG_LEVEL ?? 'info',
    redact: { paths: ['password', '*.password', 'endpoint.password', 'secret', '*.secret'], censor: '[redacted]' },
  },
  pino.destination(2),
);

export type Logger = pino.Logger;
