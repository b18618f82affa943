import {
  BatchConsumer,
  type ConsumedBatch,
  type KafkaConfig,
  REPLAY_BATCH_CONSUMER,
} from '@sync/kafka';
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

/**
 * Replays the topic from the start into the new tables with the projector's own ProjectionService,
 * through libs/kafka's batch consumer (read_committed, positions from the new tables'
 * partition_offsets, as the live consumer does); this class is its handler.
 *
 * For the switch it can be held (no batch applied, none in flight) and let run up to a ceiling per
 * partition: batches are cut at the ceiling, so the new tables stop exactly at the live position.
 */
export class ReplayConsumer {
  private readonly consumer: BatchConsumer;
  /** Next offset to apply per partition, as last committed into the new tables. */
  private readonly positions = new Map<number, bigint>();
  private readonly ends = new Map<number, bigint>();
  private readonly ceilings = new Map<number, bigint>();
  deadLetters = 0;

  constructor(
    client: KafkaConfig,
    private readonly settings: ReplaySettings,
    private readonly projection: ProjectionService,
    log: (line: string) => void,
  ) {
    for (const partition of settings.partitions) this.positions.set(partition, 0n);
    const quiet = () => undefined;
    this.consumer = new BatchConsumer(
      client,
      {
        ...settings,
        ...REPLAY_BATCH_CONSUMER,
        onFetched: (partition, end) => this.observeEnd(partition, end),
        onPositioned: (partition, offset) => this.advance(partition, offset),
      },
      projection,
      (batch) => this.applyBatch(batch),
      {
        log: quiet,
        debug: quiet,
        warn: (line) => log(`rebuild: ${line}`),
        error: (line) => log(`rebuild: ${line}`),
      },
    );
  }

  start(): Promise<void> {
    return this.consumer.start();
  }

  stop(): Promise<void> {
    return this.consumer.stop();
  }

  /** Set when the replay cannot go on (a partition keeps failing, or the consumer died). */
  get failure(): Error | undefined {
    return this.consumer.failure;
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
  hold(): Promise<void> {
    return this.consumer.hold(this.settings.partitions);
  }

  /**
   * Lets the partitions that are below `targets` run up to exactly there, then holds everything
   * again. Throws when that takes longer than `timeoutMs` (the caller holds the live tables).
   */
  async catchUpTo(targets: ReadonlyMap<number, bigint>, timeoutMs: number): Promise<void> {
    const behind = [...targets].filter(([partition, target]) => this.position(partition) < target);
    for (const [partition, target] of behind) {
      this.ceilings.set(partition, target);
      this.consumer.release(partition, this.position(partition));
    }
    const deadline = Date.now() + timeoutMs;
    while (behind.some(([partition, target]) => this.position(partition) < target)) {
      if (this.failure) throw this.failure;
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
    for (const partition of this.settings.partitions) {
      this.consumer.release(partition, this.position(partition));
    }
  }

  /** Positions only move forward: the new tables' stored offset, or a batch's outcome. */
  private advance(partition: number, offset: bigint): void {
    if (offset > this.position(partition)) this.positions.set(partition, offset);
  }

  private async applyBatch(
    batch: ConsumedBatch,
  ): Promise<{ lastOffset: bigint; nextOffset: bigint } | null> {
    const { topic, partition, firstOffset } = batch;
    let messages = batch.messages;
    let lastOffset = batch.lastOffset;
    const ceiling = this.ceilings.get(partition);
    if (ceiling !== undefined) {
      if (firstOffset >= ceiling) {
        // Everything from the position up to the first message is markers or aborted messages.
        const position = this.position(partition);
        if (position < ceiling) {
          await this.projection.passEmptyRange(topic, partition, position, ceiling - 1n);
          const stored = await this.projection.storedOffset(topic, partition);
          if (stored !== null) this.advance(partition, stored);
        }
        this.consumer.holdNow([partition]);
        return null;
      }
      messages = messages.filter((message) => BigInt(message.offset) < ceiling);
      if (lastOffset >= ceiling) lastOffset = ceiling - 1n;
    }
    const outcome = await this.projection.apply(
      { topic, partition, messages: messages.map(decodeMessage), lastOffset },
      {
        heartbeat: batch.heartbeat,
        isRunning: () => !this.consumer.isStopping,
        // The live projector published them when it met them; counted, not sent again.
        deadLetter: (_topic, _partition, letters) => {
          this.deadLetters += letters.length;
          return Promise.resolve();
        },
      },
    );
    this.advance(partition, outcome.nextOffset);
    if (ceiling !== undefined && outcome.nextOffset >= ceiling) this.consumer.holdNow([partition]);
    return { lastOffset, nextOffset: outcome.nextOffset };
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
