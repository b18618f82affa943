/**
 * NTP64 hybrid timestamps, bit-compatible with the Rust `uhlc` crate:
 * upper 32 bits = seconds since the UNIX epoch, lower 32 bits = fraction of a second,
 * and the lowest 4 bits of the fraction are the logical counter.
 */
export type Ntp64 = bigint;

export const MAX_HYBRID: Ntp64 = (1n << 64n) - 1n;
export const COUNTER_BITS = 4n;
export const COUNTER_MASK: Ntp64 = (1n << COUNTER_BITS) - 1n;
/** Clears the counter bits; `uhlc` calls this LMASK. */
export const PHYSICAL_MASK: Ntp64 = MAX_HYBRID ^ COUNTER_MASK;

const FRAC_PER_SEC = 1n << 32n;
const FRAC_MASK = FRAC_PER_SEC - 1n;
const CANONICAL_DECIMAL = /^(?:0|[1-9][0-9]{0,19})$/;
const MAX_HYBRID_DECIMAL = MAX_HYBRID.toString(10);

export type HybridParseResult = { ok: true; hybrid: Ntp64 } | { ok: false; message: string };

/** Parses the wire form: canonical unsigned decimal (no sign, no leading zeros, <= 2^64-1). */
export function parseHybrid(input: unknown): HybridParseResult {
  if (typeof input !== 'string') return { ok: false, message: 'must be a decimal string' };
  if (!CANONICAL_DECIMAL.test(input)) {
    return {
      ok: false,
      message: 'must be a canonical decimal string (digits only, no sign, no leading zeros)',
    };
  }
  if (!atMostMaxHybrid(input)) return { ok: false, message: 'must be at most 2^64-1' };
  return { ok: true, hybrid: BigInt(input) };
}

/** Like parseHybrid, for values already known to be valid (e.g. read back from storage). */
export function parseHybridOrThrow(input: string): Ntp64 {
  const parsed = parseHybrid(input);
  if (!parsed.ok)
    throw new RangeError(`invalid hybrid timestamp ${JSON.stringify(input)}: ${parsed.message}`);
  return parsed.hybrid;
}

/** parseHybrid(input).ok, without making the BigInt (a check of many clocks, kept as text). */
export function isCanonicalHybrid(input: unknown): input is string {
  return typeof input === 'string' && CANONICAL_DECIMAL.test(input) && atMostMaxHybrid(input);
}

/**
 * For a canonical decimal: at most 2^64-1. Canonical decimals of the same length compare as
 * numbers when compared as text (no sign, no leading zeros).
 */
function atMostMaxHybrid(canonical: string): boolean {
  return (
    canonical.length < MAX_HYBRID_DECIMAL.length ||
    (canonical.length === MAX_HYBRID_DECIMAL.length && canonical <= MAX_HYBRID_DECIMAL)
  );
}

export function formatHybrid(hybrid: Ntp64): string {
  if (hybrid < 0n || hybrid > MAX_HYBRID) throw new RangeError(`hybrid out of range: ${hybrid}`);
  return hybrid.toString(10);
}

/**
 * Hybrid for a wall-clock time in milliseconds since the epoch, with the given logical counter
 * (0..15) in the low bits (the fraction is truncated to a multiple of 16 first, as uhlc does).
 */
export function hybridFromMillis(ms: number | bigint, counter = 0): Ntp64 {
  if (typeof ms === 'number' && !Number.isSafeInteger(ms)) {
    throw new RangeError(`milliseconds must be a safe integer: ${ms}`);
  }
  const millis = BigInt(ms);
  if (millis < 0n) throw new RangeError(`milliseconds must not be negative: ${ms}`);
  if (!Number.isInteger(counter) || counter < 0 || BigInt(counter) > COUNTER_MASK) {
    throw new RangeError(`counter must be an integer in 0..${COUNTER_MASK}: ${counter}`);
  }
  const secs = millis / 1000n;
  if (secs >= FRAC_PER_SEC) throw new RangeError(`milliseconds beyond the NTP64 range: ${ms}`);
  const frac = ((millis % 1000n) * FRAC_PER_SEC) / 1000n;
  return (((secs << 32n) | frac) & PHYSICAL_MASK) | BigInt(counter);
}

/**
 * Physical time of a hybrid in milliseconds since the epoch, rounded to the nearest
 * millisecond so that hybridToMillis(hybridFromMillis(ms, c)) === ms for every counter c.
 */
export function hybridToMillis(hybrid: Ntp64): number {
  const secs = hybrid >> 32n;
  const frac = hybrid & FRAC_MASK;
  const subMs = (frac * 1000n + FRAC_PER_SEC / 2n) / FRAC_PER_SEC;
  return Number(secs * 1000n + subMs);
}

export function hybridCounter(hybrid: Ntp64): number {
  return Number(hybrid & COUNTER_MASK);
}

export function hybridPhysical(hybrid: Ntp64): Ntp64 {
  return hybrid & PHYSICAL_MASK;
}
