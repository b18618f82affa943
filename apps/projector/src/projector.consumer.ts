import { Logger } from '@nestjs/common';
import {
  type Admin,
  type Consumer,
  type EachBatchPayload,
  type Kafka,
  Partitioners,
  type Producer,
} from 'kafkajs';
import { batchConsumerConfig } from './consumer-settings';
import { DeadLetterPublisher } from './dead-letter.publisher';
import { decodeMessage } from './message-decoder';
import { BatchAbandoned, type BatchOutcome, type ProjectionService } from './projection.service';
import type { ProjectorConfig } from './projector.config';
import type { ProjectorMetrics } from './projector.metrics';

/** Probe run before resuming paused partitions; resolves once the dependency answers again. */
export type RecoveryProbe = () => Promise<void>;

/**
 * The kafkajs consumer-group member. A plain kafkajs consumer (Nest's Kafka transport has no batch
 * handler and commits on its own): eachBatch, no auto-commit, read_committed.
 *
 * Postgres is the authority on positions. On each assignment the consumer seeks every partition
 * to the position stored in Postgres (checked again on a partition's first batch if that did not
 * happen yet), so a fresh or restored database is rebuilt from the topic; Kafka offsets are committed only after the database
 * commit, as a hint for the next owner. A batch that fails (database or broker down) pauses its
 * partition; the partition resumes after a backoff once the database answers, and re-reads its
 * position first, so nothing is lost or repeated.
 */
export class ProjectorConsumer {
  private readonly logger = new Logger('projector');
  private readonly consumer: Consumer;
  private readonly producer: Producer;
  private readonly admin: Admin;
  private readonly deadLetters: DeadLetterPublisher;
  /** Partitions whose position was checked against Postgres since the last (re)assignment. */
  private readonly positioned = new Set<number>();
  /** Counts assignments, so positioning of an outdated one is dropped. */
  private generation = 0;
  private readonly paused = new Set<number>();
  private recoveryTimer: NodeJS.Timeout | undefined;
  private startTimer: NodeJS.Timeout | undefined;
  private backoffMs: number;
  private stopping = false;

  constructor(
    kafka: Kafka,
    private readonly config: ProjectorConfig,
    private readonly projection: ProjectionService,
    private readonly metrics: ProjectorMetrics,
    private readonly probe: RecoveryProbe,
  ) {
    this.backoffMs = config.retryInitialMs;
    this.consumer = kafka.consumer({
      ...batchConsumerConfig({ ...config, maxWaitTimeInMs: 500 }),
      retry: {
        initialRetryTime: config.retryInitialMs,
        maxRetryTime: config.retryMaxMs,
        retries: 10,
        // Never give up for good: log, and let kafkajs rejoin after its backoff.
        restartOnFailure: (error: Error) => {
          this.logger.error(`consumer crashed, restarting: ${error.message}`);
          return Promise.resolve(true);
        },
      },
    });
    // Not idempotent: that would retry forever while holding the batch; the batch retries instead.
    this.producer = kafka.producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
      retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 5000 },
    });
    this.admin = kafka.admin();
    this.deadLetters = new DeadLetterPublisher(this.producer, config.kafka.deadLetterTopic);
    this.consumer.on(this.consumer.events.GROUP_JOIN, ({ payload }) => {
      // A new assignment: every partition must be positioned from Postgres again.
      this.positioned.clear();
      const generation = ++this.generation;
      const assigned = payload.memberAssignment[this.config.kafka.operationsTopic] ?? [];
      this.logger.log(`joined ${payload.groupId}: partitions [${assigned.join(', ')}]`);
      void this.positionAssigned(generation, assigned);
    });
    // kafkajs resolves fetches with no op (only transaction markers or aborted messages) itself,
    // without calling eachBatch; record them too, or the stored position would trail the log.
    this.consumer.on(this.consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      if (payload.batchSize !== 0 || payload.firstOffset === null) return;
      this.projection
        .passEmptyRange(
          payload.topic,
          payload.partition,
          BigInt(payload.firstOffset),
          BigInt(payload.lastOffset),
        )
        .catch((error: unknown) => this.logger.debug(`empty range: ${describe(error)}`));
    });
    this.consumer.on(this.consumer.events.CRASH, ({ payload }) => {
      this.logger.error(`consumer crash (restart: ${payload.restart}): ${payload.error.message}`);
      // kafkajs restarts by itself only after retriable errors; otherwise start over here.
      if (!payload.restart) this.scheduleStart();
    });
  }

  /** Connects and joins the group; when the broker is down, keeps retrying in the background. */
  async start(): Promise<void> {
    try {
      await this.startOnce();
    } catch (error) {
      this.logger.error(`cannot start the consumer, retrying: ${describe(error)}`);
      this.scheduleStart();
    }
  }

  private scheduleStart(): void {
    if (this.stopping) return;
    this.startTimer = setTimeout(() => {
      this.startTimer = undefined;
      void this.start();
    }, this.nextBackoff());
  }

  private async startOnce(): Promise<void> {
    await this.producer.connect();
    await this.consumer.connect();
    await this.consumer.subscribe({
      topic: this.config.kafka.operationsTopic,
      fromBeginning: true,
    });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.config.concurrency,
      eachBatch: (payload) => this.onBatch(payload),
    });
    this.backoffMs = this.config.retryInitialMs;
  }

  /** Readiness: the broker answers a metadata request. */
  async checkBroker(): Promise<void> {
    await this.admin.connect();
    await this.admin.describeCluster();
  }

  /** Stops fetching, lets the batch in flight finish or roll back, leaves the group, disconnects. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.recoveryTimer);
    clearTimeout(this.startTimer);
    // disconnect() waits for the running batch; it checks isRunning() between steps and rolls back.
    await this.consumer.disconnect().catch((error: unknown) => {
      this.logger.warn(`consumer disconnect: ${describe(error)}`);
    });
    await Promise.all([
      this.producer.disconnect().catch(() => undefined),
      this.admin.disconnect().catch(() => undefined),
    ]);
  }

  private async onBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, isRunning, isStale } = payload;
    if (batch.isEmpty() || !isRunning() || isStale() || this.stopping) return;
    const { topic, partition } = batch;
    const startedAt = process.hrtime.bigint();
    const firstOffset = BigInt(batch.firstOffset() ?? batch.messages[0].offset);
    try {
      if (!this.positioned.has(partition)) {
        // Not positioned yet (the assignment's positioning is still running, or failed).
        const stored = (await this.projection.storedOffset(topic, partition)) ?? 0n;
        if (!this.positioned.has(partition)) {
          this.positioned.add(partition);
          if (stored !== firstOffset) {
            this.seek(topic, partition, stored);
            return;
          }
        }
        if (isStale()) return;
      }
      const messages = batch.messages.map(decodeMessage);
      const outcome = await this.projection.apply(
        { topic, partition, messages, lastOffset: BigInt(batch.lastOffset()) },
        {
          heartbeat: () => this.heartbeat(payload),
          isRunning: () => isRunning() && !this.stopping,
          deadLetter: (t, p, letters) => this.deadLetters.publish(t, p, letters),
        },
      );
      payload.resolveOffset(batch.lastOffset());
      await this.commit(topic, partition, outcome);
      this.backoffMs = this.config.retryInitialMs;
      const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
      this.metrics.recordBatch(outcome, batch.messages.length, seconds);
      const lag = BigInt(batch.highWatermark) - outcome.nextOffset;
      this.metrics.lag.set({ topic, partition: String(partition) }, Number(lag > 0n ? lag : 0n));
    } catch (error) {
      if (error instanceof BatchAbandoned) {
        this.logger.log(`partition ${partition}: batch at ${firstOffset} abandoned (stopping)`);
        return;
      }
      this.failed(topic, partition, firstOffset, error);
    }
  }

  /**
   * Seeks each newly assigned partition to its position in Postgres, which is authoritative: a
   * fresh or restored database is rebuilt from the topic, whatever offsets Kafka has committed.
   * A partition with no stored position starts at the beginning of the log. Runs outside the
   * fetch loop; the first batch of a partition checks again if this has not happened yet.
   */
  private async positionAssigned(generation: number, partitions: number[]): Promise<void> {
    const topic = this.config.kafka.operationsTopic;
    try {
      const stored = await Promise.all(
        partitions.map((partition) => this.projection.storedOffset(topic, partition)),
      );
      if (generation !== this.generation) return;
      partitions.forEach((partition, i) => {
        if (this.positioned.has(partition)) return;
        this.positioned.add(partition);
        this.seek(topic, partition, stored[i] ?? 0n);
      });
    } catch (error) {
      this.logger.warn(
        `positioning from Postgres failed, left to the first batch: ${describe(error)}`,
      );
    }
  }

  private seek(topic: string, partition: number, offset: bigint): void {
    this.logger.log(`partition ${partition}: positioned at ${offset} from Postgres`);
    this.consumer.seek({ topic, partition, offset: offset.toString(10) });
  }

  /** Kafka's committed offset only saves the next owner a seek: a failure here is harmless. */
  private async commit(topic: string, partition: number, outcome: BatchOutcome): Promise<void> {
    try {
      await this.consumer.commitOffsets([
        { topic, partition, offset: outcome.nextOffset.toString(10) },
      ]);
    } catch (error) {
      this.logger.warn(`partition ${partition}: offset commit to Kafka failed: ${describe(error)}`);
    }
  }

  /** A heartbeat failing mid-batch means a rebalance: finish anyway (the row lock fences). */
  private async heartbeat(payload: EachBatchPayload): Promise<void> {
    try {
      await payload.heartbeat();
    } catch (error) {
      this.logger.debug(`heartbeat: ${describe(error)}`);
    }
  }

  private failed(topic: string, partition: number, offset: bigint, error: unknown): void {
    this.metrics.failures.inc({ stage: 'batch' });
    this.positioned.delete(partition);
    if (this.stopping) return;
    this.consumer.pause([{ topic, partitions: [partition] }]);
    this.paused.add(partition);
    this.metrics.paused.set(this.paused.size);
    this.logger.error(
      `partition ${partition}: batch at ${offset} failed, paused until the database answers again: ${describe(error)}`,
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
      await this.probe();
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
    const partitions = [...this.paused];
    this.paused.clear();
    this.metrics.paused.set(0);
    this.logger.log(`resuming partition(s) ${partitions.join(', ')}`);
    this.consumer.resume([{ topic: this.config.kafka.operationsTopic, partitions }]);
  }

  /** Exponential backoff with jitter; reset by a successful batch. */
  private nextBackoff(): number {
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.config.retryMaxMs);
    return Math.round(delay * (0.75 + Math.random() * 0.5));
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
