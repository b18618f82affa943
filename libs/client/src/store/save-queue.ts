/**
 * Serializes saves of one piece of state. The value is read when a write starts, so every save()
 * resolves only after a write that includes every change made before the call; callers that
 * arrive while a write is queued share it instead of queuing another.
 */
export class SaveQueue {
  private last: Promise<void> = Promise.resolve();
  private queued: Promise<void> | null = null;

  constructor(private readonly write: () => Promise<void>) {}

  save(): Promise<void> {
    if (this.queued !== null) return this.queued;
    const run = this.last
      .catch(() => undefined)
      .then(() => {
        this.queued = null;
        return this.write();
      });
    this.queued = run;
    this.last = run;
    return run;
  }

  /** Resolves once every save requested so far has finished (failed ones included). */
  async idle(): Promise<void> {
    await this.last.catch(() => undefined);
  }
}

/** Runs async tasks one at a time, in call order. */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.catch(() => undefined).then(task);
    this.tail = result;
    return result;
  }
}
