import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/** The repository / package root (the folder holding package.json), from source or from dist/. */
export function packageRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'lua'))) return dir;
    dir = dirname(dir);
  }
  throw new Error(`cannot find the spirt package root above ${__dirname}`);
}

/** Where setup caches what it builds (outside the repo). */
export function cacheDir(): string {
  return process.env.SPIRT_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'spirt');
}

/** Default state dir of the local stack (Temporal DB, Redis data, run outputs). */
export function defaultStateDir(): string {
  return process.env.SPIRT_STATE_DIR ?? join(process.env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state'), 'spirt');
}

export interface Toolchain {
  temporal: string | null;
  redisServer: string | null;
  module: string | null;
  /** cfn-lint, for the deployment tests (test/deploy); null when setup could not install it. */
  cfnLint: string | null;
  /** AWS's Lambda Runtime Interface Emulator, for the Lambda tests (test/lambda); null when not built. */
  lambdaRie: string | null;
}

/**
 * The binaries setup found or built, recorded in `<cache>/toolchain.json`;
 * `SPIRT_TEMPORAL_BIN`, `SPIRT_REDIS_SERVER`, `SPIRT_MODULE_PATH`, `SPIRT_CFN_LINT` and `SPIRT_LAMBDA_RIE` override it
 * (`SPIRT_MODULE_PATH=none` runs Redis without the module).
 */
export function readToolchain(): Toolchain {
  let recorded: Partial<Toolchain> = {};
  const file = join(cacheDir(), 'toolchain.json');
  if (existsSync(file)) {
    try {
      recorded = JSON.parse(readFileSync(file, 'utf8')) as Partial<Toolchain>;
    } catch {
      recorded = {};
    }
  }
  const modulePath = process.env.SPIRT_MODULE_PATH ?? recorded.module ?? null;
  return {
    temporal: process.env.SPIRT_TEMPORAL_BIN ?? recorded.temporal ?? null,
    redisServer: process.env.SPIRT_REDIS_SERVER ?? recorded.redisServer ?? null,
    module: modulePath === 'none' ? null : modulePath,
    cfnLint: process.env.SPIRT_CFN_LINT ?? recorded.cfnLint ?? null,
    lambdaRie: process.env.SPIRT_LAMBDA_RIE ?? recorded.lambdaRie ?? null,
  };
}
