import fc from 'fast-check';
import { backoffDelay, retryPolicy } from './retry';

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

  it('uses a Retry-After hint as a floor, still capped', () => {
    expect(backoffDelay(policy, 1, () => 0, 1000)).toBe(1000);
    expect(backoffDelay(policy, 1, () => 0, 60_000)).toBe(3000);
  });

  it('refuses nonsense settings', () => {
    expect(() => retryPolicy({ attempts: 0 })).toThrow(RangeError);
    expect(() => retryPolicy({ baseDelayMs: -1 })).toThrow(RangeError);
  });
});
