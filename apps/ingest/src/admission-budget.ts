/** How much publish work a request brings, or a bound of work in flight. */
export interface Work {
  requests: number;
  ops: number;
  bytes: number;
}

export type WorkKind = keyof Work;

export type Admission =
  | { admitted: true }
  | {
      admitted: false;
      /** The first bound the request would pass (for the message and the metric). */
      limit: WorkKind;
      /** Whole seconds, at least 1: when enough of the work in flight should have drained. */
      retryAfterSeconds: number;
    };

/** Longest Retry-After given, however slow the drain. */
export const MAX_RETRY_AFTER_SECONDS = 30;
/** Completions older than this no longer count towards the drain rate. */
export const DRAIN_WINDOW_MS = 5000;
/**
 * Nothing drained over the last window (just started, or the work in flight is stuck on a
 * broker): no rate to go by, so come back after one more window.
 */
export const UNKNOWN_DRAIN_RETRY_AFTER_SECONDS = DRAIN_WINDOW_MS / 1000;

const KINDS: readonly WorkKind[] = ['requests', 'ops', 'bytes'];

interface Completion extends Work {
  at: number;
}

/**
 * The ingest's bound on publish work in flight (requests, ops and bytes), with no queue: a
 * request that would pass any bound is refused at once, with the time after which the work in
 * flight, draining at the rate it drained over the last few seconds, leaves room for it. Pure:
 * the caller passes the clock, so it is tested without timers.
 */
export class AdmissionBudget {
  private readonly inFlight: Work = { requests: 0, ops: 0, bytes: 0 };
  private readonly completions: Completion[] = [];
  private first = 0;

  constructor(private readonly limits: Work) {
    for (const kind of KINDS) {
      if (!(limits[kind] > 0)) throw new RangeError(`admission limit ${kind} must be positive`);
    }
  }

  get load(): Readonly<Work> {
    return this.inFlight;
  }

  /** Takes `work` into the budget, or says why not and when to come back. */
  tryAdmit(work: Work, now: number): Admission {
    const answer = this.check(work, now);
    if (answer.admitted) for (const kind of KINDS) this.inFlight[kind] += work[kind];
    return answer;
  }

  /**
   * What tryAdmit would answer now, taking nothing: lets a request whose size is partly known
   * (bytes before its body is read) be refused before it costs anything.
   */
  check(work: Work, now: number): Admission {
    const over = KINDS.find((kind) => this.inFlight[kind] + work[kind] > this.limits[kind]);
    if (over === undefined) return { admitted: true };
    return { admitted: false, limit: over, retryAfterSeconds: this.retryAfter(work, now) };
  }

  /** Gives back the work of an admitted request once it is answered (whatever the answer). */
  release(work: Work, now: number): void {
    for (const kind of KINDS) this.inFlight[kind] = Math.max(0, this.inFlight[kind] - work[kind]);
    this.completions.push({ at: now, ...work });
    this.forget(now);
  }

  /** Work drained per second over the last DRAIN_WINDOW_MS. */
  drainRate(now: number): Work {
    this.forget(now);
    const rate: Work = { requests: 0, ops: 0, bytes: 0 };
    for (let i = this.first; i < this.completions.length; i++) {
      for (const kind of KINDS) rate[kind] += this.completions[i][kind];
    }
    for (const kind of KINDS) rate[kind] /= DRAIN_WINDOW_MS / 1000;
    return rate;
  }

  private retryAfter(work: Work, now: number): number {
    const rate = this.drainRate(now);
    let seconds = 1;
    for (const kind of KINDS) {
      const excess = this.inFlight[kind] + work[kind] - this.limits[kind];
      if (excess <= 0) continue;
      seconds = Math.max(
        seconds,
        rate[kind] > 0 ? Math.ceil(excess / rate[kind]) : UNKNOWN_DRAIN_RETRY_AFTER_SECONDS,
      );
    }
    return Math.min(seconds, MAX_RETRY_AFTER_SECONDS);
  }

  private forget(now: number): void {
    while (
      this.first < this.completions.length &&
      this.completions[this.first].at <= now - DRAIN_WINDOW_MS
    ) {
      this.first++;
    }
    // Compact once the dead prefix dominates, so the array stays about one window long.
    if (this.first > 1024 && this.first * 2 > this.completions.length) {
      this.completions.splice(0, this.first);
      this.first = 0;
    }
  }
}
