/** Sends one commit of next offsets by partition. */
export type CommitSender = (offsets: ReadonlyMap<number, bigint>) => Promise<void>;

/**
 * Kafka offset commits kept off the batch path. A live consumer's committed offset only saves
 * the next owner a seek (positions come from the store), yet while the group coordinator fails
 * over, kafkajs retries a commit for many seconds: awaited after each batch, that stalled the
 * partition's next batches for as long. Here one commit is in flight at a time; offsets given
 * meanwhile are merged (the highest per partition) and sent next, so a partition's committed
 * offset never goes back.
 */
export class CoalescedCommits {
  private pending = new Map<number, bigint>();
  /** The highest offset sent per partition: nothing at or below it is sent again. */
  private readonly sent = new Map<number, bigint>();
  private sending: Promise<void> | undefined;

  constructor(
    private readonly send: CommitSender,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Commits `nextOffset` for `partition` soon; never waits and never throws. */
  commit(partition: number, nextOffset: bigint): void {
    const known = this.pending.get(partition);
    if (known === undefined || nextOffset > known) this.pending.set(partition, nextOffset);
    this.sending ??= this.drain();
  }

  /** Resolves once every commit given so far was sent (or failed). */
  async settled(): Promise<void> {
    await this.sending;
  }

  private async drain(): Promise<void> {
    while (this.pending.size > 0) {
      const offsets = new Map(
        [...this.pending].filter(
          ([partition, offset]) => offset > (this.sent.get(partition) ?? -1n),
        ),
      );
      this.pending = new Map();
      if (offsets.size === 0) continue;
      try {
        await this.send(offsets);
        for (const [partition, offset] of offsets) this.sent.set(partition, offset);
      } catch (error) {
        this.onError(error);
      }
    }
    this.sending = undefined;
  }
}
