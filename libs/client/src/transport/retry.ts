export interface RetryOptions {
  /** Total tries, the first included (default 5). */
  attempts?: number;
  /** Upper bound of the first wait (default 200 ms); doubles per retry ("full jitter"). */
  baseDelayMs?: number;
  /** Cap of any single wait (default 5000 ms). */
  maxDelayMs?: number;
}

export interface RetryPolicy {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export function retryPolicy(options: RetryOptions = {}): RetryPolicy {
  const policy = {
    attempts: options.attempts ?? 5,
    baseDelayMs: options.baseDelayMs ?? 200,
    maxDelayMs: options.maxDelayMs ?? 5000,
  };
  if (!Number.isInteger(policy.attempts) || policy.attempts < 1) {
    throw new RangeError(`retry attempts must be a positive integer: ${policy.attempts}`);
  }
  if (!(policy.baseDelayMs >= 0) || !(policy.maxDelayMs >= 0)) {
    throw new RangeError('retry delays must not be negative');
  }
  return policy;
}

/**
 * Wait before retry number `retry` (1 = first retry): uniform in [0, min(max, base * 2^(retry-1))]
 * so that many clients failing together do not come back together. A server's Retry-After, when
 * given, is a floor (still capped by maxDelayMs).
 */
export function backoffDelay(
  policy: RetryPolicy,
  retry: number,
  random: () => number = Math.random,
  retryAfterMs?: number,
): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retry - 1));
  const jittered = Math.floor(random() * ceiling);
  return retryAfterMs === undefined
    ? jittered
    : Math.min(policy.maxDelayMs, Math.max(jittered, retryAfterMs));
}

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));
