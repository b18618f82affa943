/** Raised to a waiter whose deadline passed before its offset was applied. */
export class WaitTimedOut extends Error {
  constructor(readonly partition: number) {
    super(`partition ${partition} not applied in time`);
    this.name = 'WaitTimedOut';
  }
}

interface Waiter {
  minOffset: bigint;
  resolve(): void;
  reject(error: Error): void;
  timer?: NodeJS.Timeout;
}

/**
 * The applied position (next offset to apply) per partition as last observed, and the requests
 * waiting for it to pass an offset. Observations only ever raise a position, so the map is a
 * lower bound of what is committed: a request it lets through sees its writes.
 */
export class AppliedOffsets {
  private readonly next = new Map<number, bigint>();
  private readonly waiters = new Map<number, Set<Waiter>>();
  private readonly listeners = new Map<number, Set<(nextOffset: bigint) => void>>();

  /** Next offset to apply on `partition`, undefined when nothing was observed. */
  nextOffset(partition: number): bigint | undefined {
    return this.next.get(partition);
  }

  /** True when every offset up to and including `minOffset` is applied. */
  isApplied(partition: number, minOffset: bigint): boolean {
    const next = this.next.get(partition);
    return next !== undefined && next > minOffset;
  }

  /** True while anyone waits for or follows a partition's position (a standby is then polled). */
  get watched(): boolean {
    return this.waiters.size > 0 || this.listeners.size > 0;
  }

  get waiting(): number {
    let count = 0;
    for (const set of this.waiters.values()) count += set.size;
    return count;
  }

  /** Records an observed position and wakes the waiters it satisfies. */
  observe(partition: number, nextOffset: bigint): void {
    const known = this.next.get(partition);
    if (known !== undefined && known >= nextOffset) return;
    this.next.set(partition, nextOffset);
    for (const listener of this.listeners.get(partition) ?? []) listener(nextOffset);
    const set = this.waiters.get(partition);
    if (!set) return;
    for (const waiter of set) {
      if (nextOffset > waiter.minOffset) {
        this.remove(partition, waiter);
        waiter.resolve();
      }
    }
  }

  /**
   * Resolves once `partition` is applied through `minOffset`; rejects with WaitTimedOut after
   * `timeoutMs`. Register before reading the current position so no update can slip between.
   */
  waitFor(partition: number, minOffset: bigint, timeoutMs: number): Promise<void> {
    if (this.isApplied(partition, minOffset)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { minOffset, resolve, reject };
      waiter.timer = setTimeout(() => {
        this.remove(partition, waiter);
        reject(new WaitTimedOut(partition));
      }, timeoutMs);
      let set = this.waiters.get(partition);
      if (!set) this.waiters.set(partition, (set = new Set()));
      set.add(waiter);
    });
  }

  /**
   * Calls `listener` with every raised position of `partition` (long-lived readers such as the
   * change stream); returns the unsubscribe function.
   */
  subscribe(partition: number, listener: (nextOffset: bigint) => void): () => void {
    let set = this.listeners.get(partition);
    if (!set) this.listeners.set(partition, (set = new Set()));
    set.add(listener);
    return () => {
      const current = this.listeners.get(partition);
      if (!current) return;
      current.delete(listener);
      if (current.size === 0) this.listeners.delete(partition);
    };
  }

  /** Fails every waiter (shutdown). */
  rejectAll(error: Error): void {
    for (const [partition, set] of this.waiters) {
      for (const waiter of set) {
        this.remove(partition, waiter);
        waiter.reject(error);
      }
    }
  }

  private remove(partition: number, waiter: Waiter): void {
    clearTimeout(waiter.timer);
    const set = this.waiters.get(partition);
    if (!set) return;
    set.delete(waiter);
    if (set.size === 0) this.waiters.delete(partition);
  }
}

/** Parses a `sync_applied` payload, `${topic}:${partition}:${nextOffset}`; null when malformed. */
export function parseAppliedNotification(
  payload: string | undefined,
): { topic: string; partition: number; nextOffset: bigint } | null {
  if (!payload) return null;
  // Kafka topic names cannot contain ':', but split from the right anyway.
  const last = payload.lastIndexOf(':');
  const middle = last > 0 ? payload.lastIndexOf(':', last - 1) : -1;
  if (middle <= 0) return null;
  const partitionText = payload.slice(middle + 1, last);
  const offsetText = payload.slice(last + 1);
  if (!/^\d{1,10}$/.test(partitionText) || !/^\d{1,19}$/.test(offsetText)) return null;
  return {
    topic: payload.slice(0, middle),
    partition: Number(partitionText),
    nextOffset: BigInt(offsetText),
  };
}
