import type { EnvReader } from '@sync/config';

export const AUTH_DISABLED_VAR = 'SYNC_AUTH_DISABLED';

export interface AuthSettings {
  /** False only with the explicit dev flag SYNC_AUTH_DISABLED=true. */
  enabled: boolean;
  /** How long a key lookup is cached; bounds how late a revocation takes effect elsewhere. */
  cacheTtlMs: number;
}

export const DEFAULT_AUTH_CACHE_TTL_MS = 500;

/**
 * The env a service config is read from, plus the dev flag from the process environment when
 * the given env does not set it: a test runner or the dev stack sets it once for every config
 * built in the process. An explicit value in the given env wins.
 */
export function withAuthFlag(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (env === process.env || env[AUTH_DISABLED_VAR] !== undefined) return env;
  const flag = process.env[AUTH_DISABLED_VAR];
  return flag === undefined ? env : { ...env, [AUTH_DISABLED_VAR]: flag };
}

/** Auth is on unless SYNC_AUTH_DISABLED=true (read the reader's env through withAuthFlag). */
export function readAuthSettings(reader: EnvReader): AuthSettings {
  return {
    enabled: !reader.bool(AUTH_DISABLED_VAR, false),
    cacheTtlMs: reader.int('AUTH_CACHE_TTL_MS', DEFAULT_AUTH_CACHE_TTL_MS, 0, 1000),
  };
}

export interface RateLimitSettings {
  /** Sustained requests per second per key; 0 = no limit. */
  requestsPerSecond: number;
  /** Requests a key may send at once after being idle. */
  requestBurst: number;
  /** Sustained ops per second per key; 0 = no limit. A batch may overdraw the budget once. */
  opsPerSecond: number;
}

export const DEFAULT_RATE_LIMIT: RateLimitSettings = {
  requestsPerSecond: 50,
  requestBurst: 100,
  opsPerSecond: 20_000,
};

/** Per-key ingest rate limits (INGEST_RATE_LIMIT_*). */
export function readRateLimitSettings(reader: EnvReader): RateLimitSettings {
  return {
    requestsPerSecond: reader.int(
      'INGEST_RATE_LIMIT_RPS',
      DEFAULT_RATE_LIMIT.requestsPerSecond,
      0,
      1_000_000,
    ),
    requestBurst: reader.int(
      'INGEST_RATE_LIMIT_BURST',
      DEFAULT_RATE_LIMIT.requestBurst,
      1,
      1_000_000,
    ),
    opsPerSecond: reader.int(
      'INGEST_RATE_LIMIT_OPS_PER_SEC',
      DEFAULT_RATE_LIMIT.opsPerSecond,
      0,
      100_000_000,
    ),
  };
}
