import { MAX_HYBRID, Ntp64, PHYSICAL_MASK, hybridFromMillis, hybridToMillis } from './ntp64';

/** Wall-clock source returning the current time as NTP64; injectable for tests. */
export type WallClock = () => Ntp64;

export const systemWallClock: WallClock = () => hybridFromMillis(Date.now());

export const DEFAULT_MAX_DRIFT_MS = 300_000;

export interface HybridLogicalClockOptions {
  /** Node id this clock stamps for (informational; the clock itself only orders hybrids). */
  node?: string;
  wallClock?: WallClock;
  /** Remote physical time may be at most this far ahead of the wall clock. */
  maxDriftMs?: number;
  /** Last issued value, e.g. restored from storage. */
  initial?: Ntp64;
}

export type DriftError = { ok: false; error: 'TIMESTAMP_DRIFT'; driftMs: number };
export type HlcUpdateResult = { ok: true; hybrid: Ntp64 } | DriftError;
export type HlcBatchUpdateResult = { ok: true; hybrid: Ntp64 } | (DriftError & { index: number });

/**
 * Hybrid logical clock (Kulkarni et al. 2014) with the exact update rules of `uhlc`.
 *
 * Counter overflow: when more than 16 events share one physical tick, the value is simply
 * incremented, so the counter carries into the fraction bits. The clock then runs slightly
 * ahead of the wall clock until the wall clock catches up; ordering is never violated.
 * Nothing here throws at run time (the value saturates at 2^64-1, reachable only near 2106).
 */
export class HybridLogicalClock {
  readonly node: string | undefined;
  readonly maxDriftMs: number;
  private readonly wallClock: WallClock;
  private last: Ntp64;

  constructor(options: HybridLogicalClockOptions = {}) {
    this.node = options.node;
    this.wallClock = options.wallClock ?? systemWallClock;
    this.maxDriftMs = options.maxDriftMs ?? DEFAULT_MAX_DRIFT_MS;
    this.last = options.initial ?? 0n;
    if (!Number.isFinite(this.maxDriftMs) || this.maxDriftMs < 0) {
      throw new RangeError(`maxDriftMs must be a non-negative number: ${this.maxDriftMs}`);
    }
  }

  /** Last issued (or merged) value; 0n before the first event. */
  current(): Ntp64 {
    return this.last;
  }

  /** Send rule: a new timestamp strictly greater than every value seen so far. */
  now(): Ntp64 {
    const wall = this.wall();
    this.last = wall > (this.last & PHYSICAL_MASK) ? wall : this.increment(this.last);
    return this.last;
  }

  /**
   * Receive rule. Rejects (without moving the clock) a remote value whose physical time is
   * more than maxDriftMs ahead of the wall clock; a value exactly at the bound is accepted.
   */
  update(remote: Ntp64): HlcUpdateResult {
    const wall = this.wall();
    const drift = this.drift(remote, hybridToMillis(wall));
    if (drift !== null) return drift;
    this.merge(remote, wall);
    return { ok: true, hybrid: this.last };
  }

  /** Drift check only; never moves the clock. */
  /**
   * The values of a batch more than maxDriftMs ahead (as `update` judges them), by index, all
   * judged at one reading of the wall clock; none when the batch is fine. Moves nothing.
   */
  driftsOf(remotes: readonly Ntp64[]): (DriftError & { index: number })[] {
    const wallMs = hybridToMillis(this.wall());
    const drifts: (DriftError & { index: number })[] = [];
    for (let index = 0; index < remotes.length; index++) {
      const drift = this.drift(remotes[index], wallMs);
      if (drift !== null) drifts.push({ ...drift, index });
    }
    return drifts;
  }

  /**
   * All-or-nothing receive for a batch: if any value drifts, the clock does not move and the
   * first offending index is reported; otherwise the clock absorbs the greatest value.
   */
  updateBatch(remotes: readonly Ntp64[]): HlcBatchUpdateResult {
    const wall = this.wall();
    const wallMs = hybridToMillis(wall);
    let max: Ntp64 | null = null;
    for (const [index, remote] of remotes.entries()) {
      const drift = this.drift(remote, wallMs);
      if (drift !== null) return { ...drift, index };
      if (max === null || remote > max) max = remote;
    }
    if (max !== null) this.merge(max, wall);
    return { ok: true, hybrid: this.last };
  }

  private wall(): Ntp64 {
    return this.wallClock() & PHYSICAL_MASK;
  }

  /** `wallMs`: hybridToMillis of the wall clock reading the value is judged against. */
  private drift(remote: Ntp64, wallMs: number): DriftError | null {
    // Whole milliseconds on both sides so that "exactly at the bound" is unambiguous.
    const driftMs = hybridToMillis(remote & PHYSICAL_MASK) - wallMs;
    return driftMs > this.maxDriftMs ? { ok: false, error: 'TIMESTAMP_DRIFT', driftMs } : null;
  }

  private merge(remote: Ntp64, wall: Ntp64): void {
    const last = this.last;
    if (wall >= remote && wall >= last) this.last = wall;
    else if (remote >= last) this.last = this.increment(remote);
    else this.last = this.increment(last);
  }

  private increment(value: Ntp64): Ntp64 {
    // Saturates instead of throwing: only reachable with a wall clock near the year 2106.
    return value >= MAX_HYBRID ? MAX_HYBRID : value + 1n;
  }
}
