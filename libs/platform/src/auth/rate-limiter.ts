import type { RateLimitSettings } from './auth.settings';

interface Bucket {
  requests: number;
  ops: number;
  at: number;
}

/**
 * Token buckets per key, in memory (so per instance: N ingest instances allow N times the rate).
 * The request bucket holds up to `requestBurst`; the ops bucket holds one second of ops and may
 * go into debt, so a batch larger than the budget still passes once and the key then waits.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly settings: RateLimitSettings,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes one request and `ops` ops from the key's budget; returns seconds to wait, or 0. */
  take(key: string, ops: number): number {
    const { requestsPerSecond, opsPerSecond } = this.settings;
    if (requestsPerSecond === 0 && opsPerSecond === 0) return 0;
    const now = this.now();
    const bucket = this.refill(key, now);
    let waitSeconds = 0;
    if (requestsPerSecond > 0 && bucket.requests < 1) {
      waitSeconds = Math.max(waitSeconds, (1 - bucket.requests) / requestsPerSecond);
    }
    if (opsPerSecond > 0 && bucket.ops <= 0) {
      waitSeconds = Math.max(waitSeconds, (1 - bucket.ops) / opsPerSecond);
    }
    if (waitSeconds > 0) return Math.max(1, Math.ceil(waitSeconds));
    if (requestsPerSecond > 0) bucket.requests -= 1;
    if (opsPerSecond > 0) bucket.ops -= ops;
    return 0;
  }

  private refill(key: string, now: number): Bucket {
    const { requestsPerSecond, requestBurst, opsPerSecond } = this.settings;
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      if (this.buckets.size >= 100_000) this.forgetFull(now);
      bucket = { requests: requestBurst, ops: opsPerSecond, at: now };
      this.buckets.set(key, bucket);
      return bucket;
    }
    const elapsed = Math.max(0, now - bucket.at) / 1000;
    bucket.requests = Math.min(requestBurst, bucket.requests + elapsed * requestsPerSecond);
    bucket.ops = Math.min(opsPerSecond, bucket.ops + elapsed * opsPerSecond);
    bucket.at = now;
    return bucket;
  }

  /** Keys idle long enough to be full again carry no state worth keeping. */
  private forgetFull(now: number): void {
    for (const [key, bucket] of this.buckets) {
      if (now - bucket.at > 60_000) this.buckets.delete(key);
    }
  }
}
