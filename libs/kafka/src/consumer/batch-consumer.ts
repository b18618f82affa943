import {
  type Consumer,
  type EachBatchPayload,
  Kafka,
  type KafkaConfig,
  type RetryOptions,
} from 'kafkajs';
import { type BatchConsumerSettings, batchConsumerConfig } from './batch-consumer-config';
import { CoalescedCommits } from './coalesced-commits';

/** Where a consumer's positions live: the store it applies batches to is their authority. */
export interface PositionStore {
  /** Next offset to apply as the store last committed it; null when it has none. */
  storedOffset(topic: string, partition: number): Promise<bigint | null>;
  /** Records [first, last] (no op in it) as passed; true when the stored position moved. */
  passEmptyRange(topic: string, partition: number, first: bigint, last: bigint): Promise<boolean>;
}

/** One partition's fetch, positioned where the store says. */
export interface ConsumedBatch {
  topic: string;
  partition: number;
  messages: { offset: string; key: Buffer | null; value: Buffer | null }[];
  firstOffset: bigint;
  lastOffset: bigint;
  highWatermark: bigint;
  heartbeat(): Promise<void>;
  /** False once the consumer stops or the partition was taken away. */
  isRunning(): boolean;
}

/**
 * Applies a batch and commits it to the store. Returns the last offset it handled and the next
 * offset the store now holds, or null when it handled nothing (the partition is held).
 */
export type BatchHandler = (
  batch: ConsumedBatch,
) => Promise<{ lastOffset: bigint; nextOffset: bigint } | null>;

export interface BatchConsumerLog {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  debug(message: string): void;
}

export interface BatchConsumerOptions extends BatchConsumerSettings {
  topic: string;
  maxWaitTimeInMs: number;
  /** Backoff after a failed batch (and between start attempts), doubled up to retryMaxMs. */
  retryInitialMs: number;
  retryMaxMs: number;
  /**
   * true: the consumer never gives up (kafkajs restarts after crashes, failed starts are retried)
   * and commits each batch's next offset to Kafka after the store committed it, as a hint for
   * the next owner. false: a crash, or maxFailures failed batches in a row of one partition, is
   * final (see `failure`), and nothing is committed to Kafka.
   */
  live: boolean;
  /** Consecutive failed batches of one partition after which a non-live consumer gives up. */
  maxFailures?: number;
  /** Connects what the handler needs (a dead-letter producer), at each start attempt. */
  connectFirst?: () => Promise<void>;
  /** Run before resuming paused partitions; resolves once the store answers again. */
  probe?: () => Promise<void>;
  onBatchFailed?: (partition: number, firstOffset: bigint, error: unknown) => void;
  /** Paused partitions after a failure or a resume. */
  onPausedChanged?: (paused: number) => void;
  /** A partition's position as read from the store. */
  onPositioned?: (partition: number, offset: bigint) => void;
  /** A fetch's high watermark, before anything else happens to it. */
  onFetched?: (partition: number, highWatermark: bigint) => void;
}

/**
 * The one kafkajs consumer-group member that applies batches to a store (the live projector and
 * the rebuild's replay): eachBatch, no auto-commit, read_committed, one partition's fetch = one
 * batch transaction.
 *
 * The store is the authority on positions. On each assignment every partition is sought to the
 * position the store holds (checked again on a partition's first batch if that did not happen
 * yet), so a fresh or restored store is rebuilt from the topic. Fetches of only transaction
 * markers or aborted messages never reach eachBatch; they are recorded as empty ranges, or the
 * stored position would trail the log. A batch that fails pauses its partition; it resumes after
 * a backoff once the probe answers, and reads its position again first, so nothing is lost or
 * repeated. Partitions can be held (paused, no batch in flight) and released at an offset.
 */
export class BatchConsumer {
  private readonly consumer: Consumer;
  /** Partitions whose position was checked against the store since the last (re)assignment. */
  private readonly positioned = new Set<number>();
  /** Counts assignments, so positioning of an outdated one is dropped. */
  private generation = 0;
  private readonly paused = new Set<number>();
  private readonly held = new Set<number>();
  private readonly failures = new Map<number, number>();
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];
  private recoveryTimer: NodeJS.Timeout | undefined;
  private startTimer: NodeJS.Timeout | undefined;
  private backoffMs: number;
  private stopping = false;
  private fatal: Error | undefined;
  /** Kafka's committed offset only saves the next owner a seek: sent off the batch path. */
  private readonly commits: CoalescedCommits;

  constructor(
    client: KafkaConfig,
    private readonly options: BatchConsumerOptions,
    private readonly store: PositionStore,
    private readonly handle: BatchHandler,
    private readonly logger: BatchConsumerLog,
  ) {
    this.backoffMs = options.retryInitialMs;
    this.commits = new CoalescedCommits(
      (offsets) =>
        this.consumer.commitOffsets(
          [...offsets].map(([partition, offset]) => ({
            topic: options.topic,
            partition,
            offset: offset.toString(10),
          })),
        ),
      (error) => {
        const message = `offset commit to Kafka failed (harmless): ${describe(error)}`;
        if (this.stopping) this.logger.debug(message);
        else this.logger.warn(message);
      },
    );
    this.consumer = new Kafka(client).consumer({
      ...batchConsumerConfig(options),
      ...(options.live ? { retry: this.liveRetry() } : {}),
    });
    this.consumer.on(this.consumer.events.GROUP_JOIN, ({ payload }) => {
      // A new assignment: every partition must be positioned from the store again.
      this.positioned.clear();
      const generation = ++this.generation;
      const assigned = payload.memberAssignment[options.topic] ?? [];
      this.logger.log(`joined ${payload.groupId}: partitions [${assigned.join(', ')}]`);
      void this.positionAssigned(generation, assigned);
    });
    this.consumer.on(this.consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      if (payload.batchSize !== 0 || payload.firstOffset === null) return;
      if (this.held.has(payload.partition)) return;
      this.store
        .passEmptyRange(
          payload.topic,
          payload.partition,
          BigInt(payload.firstOffset),
          BigInt(payload.lastOffset),
        )
        .then((moved) => (moved ? this.readPosition(payload.partition) : undefined))
        .catch((error: unknown) => this.logger.debug(`empty range: ${describe(error)}`));
    });
    this.consumer.on(this.consumer.events.CRASH, ({ payload }) => {
      this.logger.error(`consumer crash (restart: ${payload.restart}): ${payload.error.message}`);
      if (payload.restart) return;
      // kafkajs restarts by itself only after retriable errors; otherwise start over here.
      if (options.live) this.scheduleStart();
      else this.fatal ??= payload.error;
    });
  }

  /** Connects and joins the group. A live consumer keeps retrying in the background. */
  async start(): Promise<void> {
    try {
      await this.startOnce();
    } catch (error) {
      if (!this.options.live) throw error;
      this.logger.error(`cannot start the consumer, retrying: ${describe(error)}`);
      this.scheduleStart();
    }
  }

  /** Stops fetching, lets the batch in flight finish or roll back, leaves the group. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.recoveryTimer);
    clearTimeout(this.startTimer);
    // disconnect() waits for the running batch; it checks isRunning() between steps and rolls back.
    await this.consumer.disconnect().catch((error: unknown) => {
      this.logger.warn(`consumer disconnect: ${describe(error)}`);
    });
  }

  /** Set when a non-live consumer cannot go on (a partition keeps failing, or it crashed). */
  get failure(): Error | undefined {
    return this.fatal;
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  /** Pauses `partitions` for good (until released); resolves once no batch is in flight. */
  async hold(partitions: readonly number[]): Promise<void> {
    this.holdNow(partitions);
    if (this.inFlight > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /** Pauses `partitions` without waiting (from inside a batch of one of them). */
  holdNow(partitions: readonly number[]): void {
    for (const partition of partitions) this.held.add(partition);
    this.consumer.pause([{ topic: this.options.topic, partitions: [...partitions] }]);
  }

  /** Resumes a held partition at `offset` (whatever kafkajs fetched meanwhile). */
  release(partition: number, offset: bigint): void {
    this.held.delete(partition);
    this.paused.delete(partition);
    this.consumer.seek({ topic: this.options.topic, partition, offset: offset.toString(10) });
    this.positioned.add(partition);
    this.consumer.resume([{ topic: this.options.topic, partitions: [partition] }]);
  }

  private async startOnce(): Promise<void> {
    await this.options.connectFirst?.();
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.options.topic, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.concurrency,
      eachBatch: (payload) => this.onBatch(payload),
    });
    this.backoffMs = this.options.retryInitialMs;
  }

  private liveRetry(): RetryOptions {
    return {
      initialRetryTime: this.options.retryInitialMs,
      maxRetryTime: this.options.retryMaxMs,
      retries: 10,
      // Never give up for good: log, and let kafkajs rejoin after its backoff.
      restartOnFailure: (error: Error) => {
        this.logger.error(`consumer crashed, restarting: ${error.message}`);
        return Promise.resolve(true);
      },
    };
  }

  private scheduleStart(): void {
    if (this.stopping) return;
    this.startTimer = setTimeout(() => {
      this.startTimer = undefined;
      void this.start();
    }, this.nextBackoff());
  }

  private async onBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, isRunning, isStale } = payload;
    const { topic, partition } = batch;
    this.options.onFetched?.(partition, BigInt(batch.highWatermark));
    if (batch.isEmpty() || !isRunning() || isStale() || this.stopping) return;
    if (this.held.has(partition)) return;
    const firstOffset = BigInt(batch.firstOffset() ?? batch.messages[0].offset);
    this.inFlight++;
    try {
      if (!this.positioned.has(partition)) {
        // Not positioned yet (the assignment's positioning is still running, or failed).
        const stored = await this.readPosition(partition);
        if (!this.positioned.has(partition)) {
          this.positioned.add(partition);
          if (stored !== firstOffset) {
            this.seek(partition, stored);
            return;
          }
        }
        if (isStale()) return;
      }
      const handled = await this.handle({
        topic,
        partition,
        messages: batch.messages,
        firstOffset,
        lastOffset: BigInt(batch.lastOffset()),
        highWatermark: BigInt(batch.highWatermark),
        heartbeat: () => this.heartbeat(payload),
        isRunning: () => isRunning() && !this.stopping,
      });
      this.failures.delete(partition);
      this.backoffMs = this.options.retryInitialMs;
      if (handled === null) return;
      payload.resolveOffset(handled.lastOffset.toString(10));
      if (this.options.live) this.commits.commit(partition, handled.nextOffset);
      else await this.heartbeat(payload);
    } catch (error) {
      this.failed(partition, firstOffset, error);
    } finally {
      this.inFlight--;
      if (this.inFlight === 0) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const wake of waiters) wake();
      }
    }
  }

  /**
   * Seeks each newly assigned partition to its position in the store, which is authoritative:
   * a fresh or restored store is rebuilt from the topic, whatever offsets Kafka has committed.
   * A partition with no stored position starts at the beginning of the log. Runs outside the
   * fetch loop; the first batch of a partition checks again if this has not happened yet.
   */
  private async positionAssigned(generation: number, partitions: number[]): Promise<void> {
    try {
      const stored = await Promise.all(partitions.map((p) => this.readPosition(p)));
      if (generation !== this.generation) return;
      partitions.forEach((partition, i) => {
        if (this.positioned.has(partition)) return;
        this.positioned.add(partition);
        this.seek(partition, stored[i]);
      });
    } catch (error) {
      this.logger.warn(
        `positioning from the store failed, left to the first batch: ${describe(error)}`,
      );
    }
  }

  private async readPosition(partition: number): Promise<bigint> {
    const stored = (await this.store.storedOffset(this.options.topic, partition)) ?? 0n;
    this.options.onPositioned?.(partition, stored);
    return stored;
  }

  private seek(partition: number, offset: bigint): void {
    this.logger.log(`partition ${partition}: positioned at ${offset} from the store`);
    this.consumer.seek({ topic: this.options.topic, partition, offset: offset.toString(10) });
  }

  /** A heartbeat failing mid-batch means a rebalance: finish anyway (the store's lock fences). */
  private async heartbeat(payload: EachBatchPayload): Promise<void> {
    try {
      await payload.heartbeat();
    } catch (error) {
      this.logger.debug(`heartbeat: ${describe(error)}`);
    }
  }

  private failed(partition: number, offset: bigint, error: unknown): void {
    this.options.onBatchFailed?.(partition, offset, error);
    this.positioned.delete(partition);
    if (this.stopping) return;
    const count = (this.failures.get(partition) ?? 0) + 1;
    this.failures.set(partition, count);
    if (!this.options.live && count >= (this.options.maxFailures ?? Infinity)) {
      this.fatal ??= new Error(
        `partition ${partition} failed ${count} times in a row: ${describe(error)}`,
      );
      return;
    }
    this.consumer.pause([{ topic: this.options.topic, partitions: [partition] }]);
    this.paused.add(partition);
    this.options.onPausedChanged?.(this.paused.size);
    this.logger.error(
      `partition ${partition}: batch at ${offset} failed, paused until the store answers again: ${describe(error)}`,
    );
    this.scheduleRecovery();
  }

  private scheduleRecovery(): void {
    if (this.recoveryTimer !== undefined || this.stopping) return;
    this.recoveryTimer = setTimeout(() => {
      void this.recover();
    }, this.nextBackoff());
  }

  private async recover(): Promise<void> {
    try {
      await this.options.probe?.();
    } catch (error) {
      this.recoveryTimer = undefined;
      this.logger.warn(
        `still unavailable, ${this.paused.size} partition(s) paused: ${describe(error)}`,
      );
      this.scheduleRecovery();
      return;
    }
    this.recoveryTimer = undefined;
    if (this.stopping) return;
    // A partition held meanwhile stays held: only its holder releases it.
    const partitions = [...this.paused].filter((partition) => !this.held.has(partition));
    this.paused.clear();
    this.options.onPausedChanged?.(0);
    if (partitions.length === 0) return;
    this.logger.log(`resuming partition(s) ${partitions.join(', ')}`);
    this.consumer.resume([{ topic: this.options.topic, partitions }]);
  }

  /** Exponential backoff with jitter; reset by a successful batch. */
  private nextBackoff(): number {
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.options.retryMaxMs);
    return Math.round(delay * (0.75 + Math.random() * 0.5));
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
