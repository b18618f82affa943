import { type Consumer, type EachBatchPayload, type Kafka } from 'kafkajs';
import { batchConsumerConfig } from '../consumer-settings';
import { decodeMessage } from '../message-decoder';
import type { ProjectionService } from '../projection.service';

export interface ReplaySettings {
  topic: string;
  /** A group of its own: the replay must never take partitions from the live projector. */
  groupId: string;
  partitions: readonly number[];
  concurrency: number;
  maxBatchBytes: number;
  sessionTimeoutMs: number;
}

/** Consecutive failed batches of one partition after which the replay gives up. */
const MAX_FAILURES = 8;

/**
 * Replays the topic from the start into the new tables with the projector's own ProjectionService
 * (read_committed, positions from the new tables' partition_offsets, as the live consumer does).
 *
 * For the switch it can be held (no batch applied, none in flight) and let run up to a ceiling per
 * partition: batches are cut at the ceiling, so the new tables stop exactly at the live position.
 */
export class ReplayConsumer {
  private readonly consumer: Consumer;
  /** Next offset to apply per partition, as last committed into the new tables. */
  private readonly positions = new Map<number, bigint>();
  private readonly ends = new Map<number, bigint>();
  private readonly ceilings = new Map<number, bigint>();
  private readonly held = new Set<number>();
  private readonly positioned = new Set<number>();
  private readonly failures = new Map<number, number>();
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];
  private fatal: Error | undefined;
  private stopping = false;
  private retryTimers = new Set<NodeJS.Timeout>();
  deadLetters = 0;

  constructor(
    kafka: Kafka,
    private readonly settings: ReplaySettings,
    private readonly projection: ProjectionService,
    private readonly log: (line: string) => void,
  ) {
    for (const partition of settings.partitions) this.positions.set(partition, 0n);
    this.consumer = kafka.consumer(batchConsumerConfig({ ...settings, maxWaitTimeInMs: 200 }));
    this.consumer.on(this.consumer.events.GROUP_JOIN, ({ payload }) => {
      this.positioned.clear();
      const assigned = payload.memberAssignment[settings.topic] ?? [];
      void this.positionAll(assigned);
    });
    this.consumer.on(this.consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      // Fetches of only transaction markers or aborted messages never reach eachBatch.
      if (payload.batchSize !== 0 || payload.firstOffset === null) return;
      if (this.held.has(payload.partition)) return;
      this.projection
        .passEmptyRange(
          payload.topic,
          payload.partition,
          BigInt(payload.firstOffset),
          BigInt(payload.lastOffset),
        )
        .then((moved) => (moved ? this.refreshPosition(payload.partition) : undefined))
        .catch(() => undefined);
    });
    this.consumer.on(this.consumer.events.CRASH, ({ payload }) => {
      if (!payload.restart) this.fatal ??= payload.error;
    });
  }

  async start(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.settings.topic, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.settings.concurrency,
      eachBatch: (payload) => this.onBatch(payload),
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const timer of this.retryTimers) clearTimeout(timer);
    await this.consumer.disconnect().catch(() => undefined);
  }

  /** Set when the replay cannot go on (a partition keeps failing, or the consumer died). */
  get failure(): Error | undefined {
    return this.fatal;
  }

  /** Offsets applied, summed over partitions. */
  get applied(): bigint {
    let sum = 0n;
    for (const offset of this.positions.values()) sum += offset;
    return sum;
  }

  position(partition: number): bigint {
    return this.positions.get(partition) ?? 0n;
  }

  /** Raises the known end of a partition (from a fetch or a metadata read). */
  observeEnd(partition: number, end: bigint): void {
    if (end > (this.ends.get(partition) ?? 0n)) this.ends.set(partition, end);
  }

  get end(): bigint {
    let sum = 0n;
    for (const partition of this.settings.partitions) {
      const end = this.ends.get(partition) ?? 0n;
      const position = this.position(partition);
      sum += end > position ? end : position;
    }
    return sum;
  }

  /** Stops applying: resolves once no batch is in flight. */
  async hold(): Promise<void> {
    for (const partition of this.settings.partitions) this.held.add(partition);
    this.consumer.pause([
      { topic: this.settings.topic, partitions: [...this.settings.partitions] },
    ]);
    await this.idle();
  }

  /**
   * Lets the partitions that are below `targets` run up to exactly there, then holds everything
   * again. Throws when that takes longer than `timeoutMs` (the caller holds the live tables).
   */
  async catchUpTo(targets: ReadonlyMap<number, bigint>, timeoutMs: number): Promise<void> {
    const behind = [...targets].filter(([partition, target]) => this.position(partition) < target);
    for (const [partition, target] of behind) {
      this.ceilings.set(partition, target);
      this.release(partition);
    }
    const deadline = Date.now() + timeoutMs;
    while (behind.some(([partition, target]) => this.position(partition) < target)) {
      if (this.fatal) throw this.fatal;
      if (Date.now() > deadline) {
        await this.hold();
        throw new CatchUpTimedOut(timeoutMs);
      }
      await sleep(20);
    }
    await this.hold();
  }

  /** Back to replaying freely after a switch attempt that did not happen. */
  resume(): void {
    this.ceilings.clear();
    for (const partition of this.settings.partitions) this.release(partition);
  }

  private release(partition: number): void {
    this.held.delete(partition);
    // Whatever kafkajs fetched meanwhile, continue from what the tables say.
    this.consumer.seek({
      topic: this.settings.topic,
      partition,
      offset: this.position(partition).toString(10),
    });
    this.positioned.add(partition);
    this.consumer.resume([{ topic: this.settings.topic, partitions: [partition] }]);
  }

  private idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async positionAll(partitions: number[]): Promise<void> {
    try {
      for (const partition of partitions) {
        const stored = (await this.projection.storedOffset(this.settings.topic, partition)) ?? 0n;
        this.positions.set(partition, stored);
        if (this.positioned.has(partition)) continue;
        this.positioned.add(partition);
        this.consumer.seek({ topic: this.settings.topic, partition, offset: stored.toString(10) });
      }
    } catch (error) {
      this.log(`rebuild: positioning failed, left to the first batch: ${describe(error)}`);
    }
  }

  private async refreshPosition(partition: number): Promise<void> {
    const stored = await this.projection.storedOffset(this.settings.topic, partition);
    if (stored !== null && stored > this.position(partition)) {
      this.positions.set(partition, stored);
    }
  }

  private async onBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const partition = batch.partition;
    this.observeEnd(partition, BigInt(batch.highWatermark));
    if (batch.isEmpty() || this.stopping || !payload.isRunning() || payload.isStale()) return;
    if (this.held.has(partition)) return;
    this.inFlight++;
    try {
      await this.applyBatch(payload);
      this.failures.delete(partition);
    } catch (error) {
      this.failed(partition, error);
    } finally {
      this.inFlight--;
      if (this.inFlight === 0) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const wake of waiters) wake();
      }
    }
  }

  private async applyBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const { topic, partition } = batch;
    const firstOffset = BigInt(batch.firstOffset() ?? batch.messages[0].offset);
    if (!this.positioned.has(partition)) {
      const stored = (await this.projection.storedOffset(topic, partition)) ?? 0n;
      this.positions.set(partition, stored);
      if (!this.positioned.has(partition)) {
        this.positioned.add(partition);
        if (stored !== firstOffset) {
          this.consumer.seek({ topic, partition, offset: stored.toString(10) });
          return;
        }
      }
    }
    let messages = batch.messages;
    let lastOffset = BigInt(batch.lastOffset());
    const ceiling = this.ceilings.get(partition);
    if (ceiling !== undefined) {
      if (firstOffset >= ceiling) {
        // Everything from the position up to the first message is markers or aborted messages.
        const position = this.position(partition);
        if (position < ceiling) {
          await this.projection.passEmptyRange(topic, partition, position, ceiling - 1n);
          await this.refreshPosition(partition);
        }
        this.pause(partition);
        return;
      }
      messages = messages.filter((message) => BigInt(message.offset) < ceiling);
      if (lastOffset >= ceiling) lastOffset = ceiling - 1n;
    }
    const outcome = await this.projection.apply(
      { topic, partition, messages: messages.map(decodeMessage), lastOffset },
      {
        heartbeat: () => payload.heartbeat().catch(() => undefined),
        isRunning: () => !this.stopping,
        // The live projector published them when it met them; counted, not sent again.
        deadLetter: (_topic, _partition, letters) => {
          this.deadLetters += letters.length;
          return Promise.resolve();
        },
      },
    );
    payload.resolveOffset(lastOffset.toString(10));
    this.positions.set(partition, outcome.nextOffset);
    if (ceiling !== undefined && outcome.nextOffset >= ceiling) this.pause(partition);
    await payload.heartbeat().catch(() => undefined);
  }

  private pause(partition: number): void {
    this.held.add(partition);
    this.consumer.pause([{ topic: this.settings.topic, partitions: [partition] }]);
  }

  /** A failed batch rolled back: retry the partition from its stored position after a pause. */
  private failed(partition: number, error: unknown): void {
    const count = (this.failures.get(partition) ?? 0) + 1;
    this.failures.set(partition, count);
    this.log(`rebuild: partition ${partition}: batch failed (${count}): ${describe(error)}`);
    if (count >= MAX_FAILURES) {
      this.fatal ??= new Error(
        `partition ${partition} failed ${count} times in a row: ${describe(error)}`,
      );
      return;
    }
    this.positioned.delete(partition);
    this.consumer.pause([{ topic: this.settings.topic, partitions: [partition] }]);
    const timer = setTimeout(
      () => {
        this.retryTimers.delete(timer);
        if (this.stopping || this.held.has(partition)) return;
        this.refreshPosition(partition)
          .catch(() => undefined)
          .finally(() => {
            if (!this.stopping && !this.held.has(partition)) this.release(partition);
          });
      },
      Math.min(250 * 2 ** count, 10_000),
    );
    this.retryTimers.add(timer);
  }
}

export class CatchUpTimedOut extends Error {
  constructor(timeoutMs: number) {
    super(`the new tables did not reach the live position within ${timeoutMs} ms`);
    this.name = 'CatchUpTimedOut';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
