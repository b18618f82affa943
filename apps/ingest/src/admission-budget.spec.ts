import fc from 'fast-check';
import {
  AdmissionBudget,
  DRAIN_WINDOW_MS,
  MAX_RETRY_AFTER_SECONDS,
  UNKNOWN_DRAIN_RETRY_AFTER_SECONDS,
  type Work,
} from './admission-budget';

const work = (ops: number, bytes = ops * 100): Work => ({ requests: 1, ops, bytes });

describe('AdmissionBudget', () => {
  it('admits up to every bound and refuses the request that would pass one', () => {
    const budget = new AdmissionBudget({ requests: 3, ops: 100, bytes: 1_000_000 });
    expect(budget.tryAdmit(work(60), 0)).toEqual({ admitted: true });
    expect(budget.tryAdmit(work(40), 0)).toEqual({ admitted: true });
    expect(budget.tryAdmit(work(1), 0)).toMatchObject({ admitted: false, limit: 'ops' });
    expect(budget.load).toEqual({ requests: 2, ops: 100, bytes: 10_000 });
  });

  it('bounds requests and bytes as well as ops', () => {
    const byRequests = new AdmissionBudget({ requests: 1, ops: 100, bytes: 1_000_000 });
    byRequests.tryAdmit(work(1), 0);
    expect(byRequests.tryAdmit(work(1), 0)).toMatchObject({ admitted: false, limit: 'requests' });
    const byBytes = new AdmissionBudget({ requests: 10, ops: 100, bytes: 1000 });
    byBytes.tryAdmit(work(5, 900), 0);
    expect(byBytes.tryAdmit(work(1, 200), 0)).toMatchObject({ admitted: false, limit: 'bytes' });
    expect(byBytes.tryAdmit(work(1, 100), 0)).toEqual({ admitted: true });
  });

  it('checks without taking anything', () => {
    const budget = new AdmissionBudget({ requests: 1, ops: 10, bytes: 10_000 });
    expect(budget.check(work(10), 0)).toEqual({ admitted: true });
    expect(budget.load).toEqual({ requests: 0, ops: 0, bytes: 0 });
    budget.tryAdmit(work(10), 0);
    expect(budget.check({ requests: 1, ops: 0, bytes: 0 }, 0)).toMatchObject({
      admitted: false,
      limit: 'requests',
    });
  });

  it('frees room when admitted work is released', () => {
    const budget = new AdmissionBudget({ requests: 1, ops: 10, bytes: 10_000 });
    budget.tryAdmit(work(10), 0);
    expect(budget.tryAdmit(work(10), 1).admitted).toBe(false);
    budget.release(work(10), 2);
    expect(budget.tryAdmit(work(10), 3)).toEqual({ admitted: true });
  });

  it('asks to come back when the work in flight should have drained, at the recent drain rate', () => {
    const budget = new AdmissionBudget({ requests: 100, ops: 1000, bytes: 10_000_000 });
    // 5000 ops drained over the last 5 s: 1000 ops/s.
    for (let t = 0; t < DRAIN_WINDOW_MS; t += 100) {
      budget.tryAdmit(work(100), t);
      budget.release(work(100), t);
    }
    expect(budget.drainRate(DRAIN_WINDOW_MS - 1).ops).toBeCloseTo(1000);
    budget.tryAdmit(work(1000), DRAIN_WINDOW_MS - 1);
    // 3000 ops over the bound at 1000 ops/s: 3 s.
    expect(budget.tryAdmit(work(3000), DRAIN_WINDOW_MS - 1)).toMatchObject({
      admitted: false,
      retryAfterSeconds: 3,
    });
    // A slow drain is capped.
    expect(budget.tryAdmit(work(900_000), DRAIN_WINDOW_MS - 1)).toMatchObject({
      retryAfterSeconds: MAX_RETRY_AFTER_SECONDS,
    });
    // A little over: still at least one second (Retry-After is in whole seconds).
    expect(budget.tryAdmit(work(1), DRAIN_WINDOW_MS - 1)).toMatchObject({ retryAfterSeconds: 1 });
  });

  it('asks to come back after one window when nothing drained recently (e.g. the broker is down)', () => {
    const budget = new AdmissionBudget({ requests: 1, ops: 1000, bytes: 10_000_000 });
    budget.tryAdmit(work(1), 0);
    budget.release(work(1), 0);
    budget.tryAdmit(work(1), DRAIN_WINDOW_MS);
    expect(budget.tryAdmit(work(1), DRAIN_WINDOW_MS + 1)).toMatchObject({
      admitted: false,
      retryAfterSeconds: UNKNOWN_DRAIN_RETRY_AFTER_SECONDS,
    });
  });

  it('never exceeds a bound, never goes negative, and answers a Retry-After within 1..MAX', () => {
    const step = fc.record({
      ops: fc.integer({ min: 1, max: 400 }),
      bytes: fc.integer({ min: 1, max: 40_000 }),
      releaseOne: fc.boolean(),
      dt: fc.integer({ min: 0, max: 2000 }),
    });
    fc.assert(
      fc.property(fc.array(step, { maxLength: 200 }), (steps) => {
        const limits = { requests: 8, ops: 1000, bytes: 100_000 };
        const budget = new AdmissionBudget(limits);
        const admitted: Work[] = [];
        let now = 0;
        for (const s of steps) {
          now += s.dt;
          if (s.releaseOne && admitted.length > 0) budget.release(admitted.shift()!, now);
          const w = { requests: 1, ops: s.ops, bytes: s.bytes };
          const answer = budget.tryAdmit(w, now);
          if (answer.admitted) admitted.push(w);
          else {
            expect(answer.retryAfterSeconds).toBeGreaterThanOrEqual(1);
            expect(answer.retryAfterSeconds).toBeLessThanOrEqual(MAX_RETRY_AFTER_SECONDS);
          }
          const sum = admitted.reduce(
            (a, b) => ({
              requests: a.requests + 1,
              ops: a.ops + b.ops,
              bytes: a.bytes + b.bytes,
            }),
            { requests: 0, ops: 0, bytes: 0 },
          );
          expect(budget.load).toEqual(sum);
          expect(sum.ops).toBeLessThanOrEqual(limits.ops);
          expect(sum.bytes).toBeLessThanOrEqual(limits.bytes);
          expect(sum.requests).toBeLessThanOrEqual(limits.requests);
        }
      }),
    );
  });
});
