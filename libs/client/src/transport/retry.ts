export interface RetryOptions {
  /** Total tries, the first included (default 5). */
  attempts?: number;
  /** Upper bound of the first wait (default 200 ms); doubles per retry ("full jitter"). */
  baseDelayMs?: number;
  /** Cap of any single wait the client picks itself (default 5000 ms). */
  maxDelayMs?: number;
  /** Longest server Retry-After honoured (default 30000 ms; the ingest never asks for more). */
  maxRetryAfterMs?: number;
}

export interface RetryPolicy {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  maxRetryAfterMs: number;
}

/**
 * A Retry-After is stretched by up to this fraction at random, so the clients an overloaded
 * server refused in the same second do not all come back in the same second.
 */
export const RETRY_AFTER_SPREAD = 0.5;

export function retryPolicy(options: RetryOptions = {}): RetryPolicy {
  const policy = {
    attempts: options.attempts ?? 5,
    baseDelayMs: options.baseDelayMs ?? 200,
    maxDelayMs: options.maxDelayMs ?? 5000,
    maxRetryAfterMs: options.maxRetryAfterMs ?? 30_000,
  };
  if (!Number.isInteger(policy.attempts) || policy.attempts < 1) {
    throw new RangeError(`retry attempts must be a positive integer: ${policy.attempts}`);
  }
  if (!(policy.baseDelayMs >= 0) || !(policy.maxDelayMs >= 0) || !(policy.maxRetryAfterMs >= 0)) {
    throw new RangeError('retry delays must not be negative');
  }
  return policy;
}

/**
 * Wait before retry number `retry` (1 = first retry): uniform in [0, min(max, base * 2^(retry-1))]
 * so that many clients failing together do not come back together. A server's Retry-After, when
 * given, replaces that guess: the server knows when it expects room (an overloaded ingest computes
 * it from its drain rate). It is honoured up to maxRetryAfterMs and stretched by a random share of
 * up to RETRY_AFTER_SPREAD, never shortened.
 */
export function backoffDelay(
  policy: RetryPolicy,
  retry: number,
  random: () => number = Math.random,
  retryAfterMs?: number,
): number {
  if (retryAfterMs !== undefined) {
    const floor = Math.min(retryAfterMs, policy.maxRetryAfterMs);
    return Math.floor(floor * (1 + RETRY_AFTER_SPREAD * random()));
  }
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retry - 1));
  return Math.floor(random() * ceiling);
}

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));
