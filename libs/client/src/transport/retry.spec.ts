import fc from 'fast-check';
import { RETRY_AFTER_SPREAD, backoffDelay, retryPolicy } from './retry';

describe('backoffDelay', () => {
  const policy = retryPolicy({ attempts: 10, baseDelayMs: 100, maxDelayMs: 3000 });

  it('stays within [0, min(max, base * 2^(retry-1))] for any jitter', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 30 }),
        fc.double({ min: 0, max: 0.9999999, noNaN: true }),
        (retry, r) => {
          const delay = backoffDelay(policy, retry, () => r);
          return delay >= 0 && delay <= Math.min(3000, 100 * 2 ** (retry - 1));
        },
      ),
    );
  });

  it('grows exponentially until the cap', () => {
    const top = (retry: number) => backoffDelay(policy, retry, () => 0.9999999);
    expect([1, 2, 3, 4, 5, 6, 7].map(top)).toEqual([99, 199, 399, 799, 1599, 2999, 2999]);
  });

  it('honours a Retry-After: never earlier, stretched by jitter, capped by maxRetryAfterMs', () => {
    expect(backoffDelay(policy, 1, () => 0, 1000)).toBe(1000);
    // Longer than the client's own cap of 3 s: the server's answer wins.
    expect(backoffDelay(policy, 1, () => 0, 8000)).toBe(8000);
    expect(backoffDelay(policy, 1, () => 0.9999999, 8000)).toBe(
      8000 * (1 + RETRY_AFTER_SPREAD) - 1,
    );
    expect(backoffDelay(policy, 1, () => 0, 600_000)).toBe(30_000);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 1, max: 30_000 }),
        fc.double({ min: 0, max: 0.9999999, noNaN: true }),
        (retry, after, r) => {
          const delay = backoffDelay(policy, retry, () => r, after);
          return delay >= after && delay <= after * (1 + RETRY_AFTER_SPREAD);
        },
      ),
    );
  });

  it('spreads clients refused together over the interval', () => {
    let seed = 7;
    const random = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
    const delays = Array.from({ length: 1000 }, () => backoffDelay(policy, 1, random, 2000));
    const seconds = new Set(delays.map((d) => Math.floor(d / 250)));
    // 2000..3000 ms in 250 ms slots: all four used.
    expect(seconds).toEqual(new Set([8, 9, 10, 11]));
  });

  it('refuses nonsense settings', () => {
    expect(() => retryPolicy({ attempts: 0 })).toThrow(RangeError);
    expect(() => retryPolicy({ baseDelayMs: -1 })).toThrow(RangeError);
  });
});
