import fc from 'fast-check';
import { HybridLogicalClock } from './hybrid-logical-clock';
import { COUNTER_MASK, hybridCounter, hybridFromMillis, hybridPhysical } from './ntp64';

const T0 = 1_700_000_000_000;

/** A wall clock the test moves by hand. */
function manualClock(startMs: number) {
  let ms = startMs;
  return {
    source: () => hybridFromMillis(ms),
    set: (next: number) => {
      ms = next;
    },
  };
}

describe('HybridLogicalClock.now (send rule)', () => {
  it('follows the wall clock when it advances', () => {
    const wall = manualClock(T0);
    const hlc = new HybridLogicalClock({ wallClock: wall.source });
    expect(hlc.now()).toBe(hybridFromMillis(T0));
    wall.set(T0 + 5);
    expect(hlc.now()).toBe(hybridFromMillis(T0 + 5));
    expect(hlc.current()).toBe(hybridFromMillis(T0 + 5));
  });

  it('counts up in the counter bits within one tick', () => {
    const wall = manualClock(T0);
    const hlc = new HybridLogicalClock({ wallClock: wall.source });
    const first = hlc.now();
    const second = hlc.now();
    expect(second).toBe(first + 1n);
    expect(hybridCounter(second)).toBe(1);
  });

  it('keeps increasing when the wall clock goes backwards', () => {
    const wall = manualClock(T0);
    const hlc = new HybridLogicalClock({ wallClock: wall.source });
    const before = hlc.now();
    wall.set(T0 - 60_000);
    const after = hlc.now();
    expect(after).toBe(before + 1n);
    expect(hybridPhysical(after)).toBe(hybridFromMillis(T0));
  });

  it('carries a counter overflow into the fraction when 16+ events share a tick', () => {
    const wall = manualClock(T0);
    const hlc = new HybridLogicalClock({ wallClock: wall.source });
    const stamps = Array.from({ length: 40 }, () => hlc.now());
    for (let i = 1; i < stamps.length; i++) expect(stamps[i]).toBe(stamps[0] + BigInt(i));
    expect(hybridPhysical(stamps[16])).toBe(hybridFromMillis(T0) + COUNTER_MASK + 1n);
    // When the wall clock moves on, the clock rejoins it.
    wall.set(T0 + 1);
    expect(hlc.now()).toBe(hybridFromMillis(T0 + 1));
  });

  it('masks the counter bits of the wall clock, like uhlc', () => {
    const hlc = new HybridLogicalClock({ wallClock: () => hybridFromMillis(T0) | 0xfn });
    expect(hlc.now()).toBe(hybridFromMillis(T0));
  });
});

describe('HybridLogicalClock.update (receive rule)', () => {
  it('jumps past a remote value ahead of the wall clock', () => {
    const wall = manualClock(T0);
    const hlc = new HybridLogicalClock({ wallClock: wall.source });
    const remote = hybridFromMillis(T0 + 1000, 3);
    expect(hlc.update(remote)).toEqual({ ok: true, hybrid: remote + 1n });
    expect(hlc.now()).toBe(remote + 2n);
  });

  it('takes the wall clock when it is ahead of both', () => {
    const wall = manualClock(T0);
    const hlc = new HybridLogicalClock({ wallClock: wall.source });
    expect(hlc.update(hybridFromMillis(T0 - 10))).toEqual({
      ok: true,
      hybrid: hybridFromMillis(T0),
    });
  });

  it('increments its own last value when that is the greatest', () => {
    const wall = manualClock(T0);
    const hlc = new HybridLogicalClock({ wallClock: wall.source });
    hlc.update(hybridFromMillis(T0 + 500));
    const last = hlc.current();
    wall.set(T0 + 1);
    expect(hlc.update(hybridFromMillis(T0 + 2))).toEqual({ ok: true, hybrid: last + 1n });
  });

  it('accepts drift exactly at the bound', () => {
    const hlc = new HybridLogicalClock({ wallClock: manualClock(T0).source });
    const remote = hybridFromMillis(T0 + 300_000, 15);
    expect(hlc.update(remote)).toEqual({ ok: true, hybrid: remote + 1n });
  });

  it('rejects drift 1 ms past the bound without moving the clock', () => {
    const hlc = new HybridLogicalClock({ wallClock: manualClock(T0).source });
    const before = hlc.now();
    const result = hlc.update(hybridFromMillis(T0 + 300_001));
    expect(result).toEqual({ ok: false, error: 'TIMESTAMP_DRIFT', driftMs: 300_001 });
    expect(hlc.current()).toBe(before);
  });

  it('honours a configured maxDriftMs', () => {
    const hlc = new HybridLogicalClock({ wallClock: manualClock(T0).source, maxDriftMs: 1500 });
    expect(hlc.driftsOf([hybridFromMillis(T0 + 1500)])).toEqual([]);
    expect(hlc.driftsOf([hybridFromMillis(T0 + 1501)])).toEqual([
      { ok: false, error: 'TIMESTAMP_DRIFT', driftMs: 1501, index: 0 },
    ]);
  });

  it('judges a whole batch at one wall clock reading, reporting every drifted index', () => {
    const clock = manualClock(T0);
    let readings = 0;
    const hlc = new HybridLogicalClock({
      wallClock: () => {
        readings++;
        return clock.source();
      },
      maxDriftMs: 1000,
    });
    const remotes = [T0, T0 + 1001, T0 + 1000, T0 + 5000].map((ms) => hybridFromMillis(ms));
    expect(hlc.driftsOf(remotes)).toEqual([
      { ok: false, error: 'TIMESTAMP_DRIFT', driftMs: 1001, index: 1 },
      { ok: false, error: 'TIMESTAMP_DRIFT', driftMs: 5000, index: 3 },
    ]);
    expect(readings).toBe(1);
    expect(hlc.current()).toBe(0n);
  });

  it('never throws, even for the largest 64-bit value', () => {
    const hlc = new HybridLogicalClock({ wallClock: manualClock(T0).source });
    expect(hlc.update((1n << 64n) - 1n)).toMatchObject({ ok: false, error: 'TIMESTAMP_DRIFT' });
  });

  it('updateBatch is all-or-nothing and reports the first offending index', () => {
    const hlc = new HybridLogicalClock({ wallClock: manualClock(T0).source });
    const before = hlc.now();
    const ok = hybridFromMillis(T0 + 10);
    const bad = hybridFromMillis(T0 + 400_000);
    expect(hlc.updateBatch([ok, bad, bad])).toMatchObject({ ok: false, index: 1 });
    expect(hlc.current()).toBe(before);
    expect(hlc.updateBatch([ok, hybridFromMillis(T0 + 20)])).toEqual({
      ok: true,
      hybrid: hybridFromMillis(T0 + 20) + 1n,
    });
  });
});

describe('HybridLogicalClock monotonicity (property)', () => {
  type Step =
    | { kind: 'now' }
    | { kind: 'update'; offsetMs: number; counter: number }
    | { kind: 'wall'; deltaMs: number };
  const step: fc.Arbitrary<Step> = fc.oneof(
    fc.constant({ kind: 'now' as const }),
    fc.record({
      kind: fc.constant('update' as const),
      offsetMs: fc.integer({ min: -400_000, max: 400_000 }),
      counter: fc.integer({ min: 0, max: 15 }),
    }),
    fc.record({
      kind: fc.constant('wall' as const),
      deltaMs: fc.integer({ min: -5_000, max: 5_000 }),
    }),
  );

  it('issues strictly increasing values and never moves on a rejected update', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 200 }), (steps) => {
        let wallMs = T0;
        const hlc = new HybridLogicalClock({ wallClock: () => hybridFromMillis(wallMs) });
        let last = hlc.current();
        for (const s of steps) {
          if (s.kind === 'wall') {
            wallMs += s.deltaMs;
            continue;
          }
          if (s.kind === 'now') {
            const next = hlc.now();
            if (next <= last) return false;
            last = next;
            continue;
          }
          const remote = hybridFromMillis(wallMs + s.offsetMs, s.counter);
          const result = hlc.update(remote);
          if (result.ok) {
            if (result.hybrid < last || result.hybrid < remote) return false;
            last = result.hybrid;
          } else if (hlc.current() !== last || s.offsetMs <= 300_000) {
            return false;
          }
        }
        return true;
      }),
      { numRuns: 1000 },
    );
  });
});
