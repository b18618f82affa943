import {
  COUNTER_MASK,
  MAX_HYBRID,
  formatHybrid,
  hybridCounter,
  hybridFromMillis,
  hybridPhysical,
  hybridToMillis,
  isCanonicalHybrid,
  parseHybrid,
} from './ntp64';
import { compareClock, identityKey } from './clock-order';
import fc from 'fast-check';

describe('parseHybrid', () => {
  it.each(['0', '1', '7303014132392402944', '18446744073709551615'])('accepts %s', (s) => {
    expect(parseHybrid(s)).toEqual({ ok: true, hybrid: BigInt(s) });
  });

  it.each([
    ['leading zero', '01'],
    ['sign', '+1'],
    ['minus', '-1'],
    ['empty', ''],
    ['space', ' 1'],
    ['exponent', '1e5'],
    ['decimal point', '1.0'],
    ['hex', '0x10'],
    ['above 2^64-1', '18446744073709551616'],
    ['21 digits', '100000000000000000000'],
  ])('rejects %s', (_name, s) => {
    expect(parseHybrid(s).ok).toBe(false);
  });

  it('rejects a JSON number with a message saying it must be a string', () => {
    expect(parseHybrid(12345)).toEqual({ ok: false, message: 'must be a decimal string' });
  });

  it('round-trips every 64-bit value through formatHybrid', () => {
    fc.assert(
      fc.property(fc.bigUintN(64), (h) => {
        const parsed = parseHybrid(formatHybrid(h));
        return parsed.ok && parsed.hybrid === h;
      }),
      { numRuns: 1000 },
    );
  });
});

describe('isCanonicalHybrid', () => {
  // The rule spelled with BigInt: digits without a leading zero, at most 2^64-1.
  const reference = (s: string) => /^(?:0|[1-9][0-9]*)$/.test(s) && BigInt(s) <= MAX_HYBRID;
  const candidates = fc.oneof(
    fc.bigUintN(66).map(String),
    fc.bigInt({ min: MAX_HYBRID - 2000n, max: MAX_HYBRID + 2000n }).map(String),
    fc.stringMatching(/^[-+ 0-9]{0,22}$/),
    fc.string(),
  );

  it('answers as parseHybrid and as the rule checked with BigInt', () => {
    fc.assert(
      fc.property(candidates, (s) => {
        const expected = reference(s);
        return isCanonicalHybrid(s) === expected && parseHybrid(s).ok === expected;
      }),
      { numRuns: 5000 },
    );
  });

  it.each([
    ['2^64-1', '18446744073709551615', true],
    ['2^64', '18446744073709551616', false],
    ['20 digits above 2^64-1', '99999999999999999999', false],
    ['19 nines', '9999999999999999999', true],
    ['leading zero', '018446744073709551615', false],
  ])('%s', (_name, s, expected) => {
    expect(isCanonicalHybrid(s)).toBe(expected);
  });

  it('is false for what is not a string', () => {
    expect(isCanonicalHybrid(12345)).toBe(false);
    expect(isCanonicalHybrid(null)).toBe(false);
  });
});

describe('NTP64 layout (uhlc)', () => {
  it('puts seconds in the upper 32 bits and the fraction in the lower 32', () => {
    const h = hybridFromMillis(1_700_000_000_500);
    expect(h >> 32n).toBe(1_700_000_000n);
    expect(h & 0xffffffffn).toBe(0x80000000n); // half a second
  });

  it('keeps the logical counter in the lowest 4 bits', () => {
    const h = hybridFromMillis(1_700_000_000_123, 9);
    expect(hybridCounter(h)).toBe(9);
    expect(hybridPhysical(h)).toBe(hybridFromMillis(1_700_000_000_123));
  });

  it('matches a value computed the way uhlc does for a known instant', () => {
    // uhlc: (secs << 32) + nanos * 2^32 / 1e9, then masked with LMASK by the HLC.
    const secs = 1_700_000_000n;
    const nanos = 250_000_000n;
    const uhlc = ((secs << 32n) + (nanos << 32n) / 1_000_000_000n) & ~COUNTER_MASK;
    expect(hybridFromMillis(1_700_000_000_250)).toBe(uhlc);
  });

  it('converts back to the same millisecond for every counter value', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4_294_967_295_999 }),
        fc.integer({ min: 0, max: 15 }),
        (ms, c) => {
          return hybridToMillis(hybridFromMillis(ms, c)) === ms;
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('is monotonic in milliseconds', () => {
    fc.assert(
      fc.property(fc.nat(4_000_000_000_000), fc.nat(4_000_000_000_000), (a, b) => {
        const ha = hybridFromMillis(a);
        const hb = hybridFromMillis(b);
        return a < b ? ha < hb : a > b ? ha > hb : ha === hb;
      }),
      { numRuns: 1000 },
    );
  });

  it('rejects out-of-range input', () => {
    expect(() => hybridFromMillis(-1)).toThrow(RangeError);
    expect(() => hybridFromMillis(1.5)).toThrow(RangeError);
    expect(() => hybridFromMillis(0, 16)).toThrow(RangeError);
    expect(() => formatHybrid(MAX_HYBRID + 1n)).toThrow(RangeError);
  });
});

describe('compareClock', () => {
  const a = '0a000000-0000-4000-8000-00000000000a';
  const b = '0b000000-0000-4000-8000-00000000000b';

  it('orders by hybrid first, then by node', () => {
    expect(compareClock({ hybrid: 1n, node: b }, { hybrid: 2n, node: a })).toBe(-1);
    expect(compareClock({ hybrid: 2n, node: a }, { hybrid: 2n, node: b })).toBe(-1);
    expect(compareClock({ hybrid: 2n, node: b }, { hybrid: 2n, node: a })).toBe(1);
    expect(compareClock({ hybrid: 2n, node: a }, { hybrid: 2n, node: a })).toBe(0);
  });

  it('compares as unsigned 64-bit (values past 2^63 sort last)', () => {
    expect(
      compareClock({ hybrid: 1n << 63n, node: a }, { hybrid: (1n << 63n) - 1n, node: a }),
    ).toBe(1);
  });

  it('is a total order (antisymmetric and transitive)', () => {
    const clock = fc.record({
      hybrid: fc.bigUintN(64),
      node: fc.constantFrom(a, b, '0c000000-0000-4000-8000-00000000000c'),
    });
    fc.assert(
      fc.property(clock, clock, clock, (x, y, z) => {
        if (compareClock(x, y) !== -compareClock(y, x)) return false;
        if (compareClock(x, y) <= 0 && compareClock(y, z) <= 0) return compareClock(x, z) <= 0;
        return true;
      }),
      { numRuns: 1000 },
    );
  });

  it('builds identity keys from node and canonical hybrid', () => {
    expect(identityKey(a, 42n)).toBe(identityKey(a, '42'));
    expect(identityKey(a, 42n)).not.toBe(identityKey(b, 42n));
  });
});
