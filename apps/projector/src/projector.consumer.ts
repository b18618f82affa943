import { Logger } from '@nestjs/common';
import {
  BatchConsumer,
  type ConsumedBatch,
  DeadLetterProducer,
  type KafkaConfig,
  TopicAdmin,
} from '@sync/kafka';
import { DeadLetterPublisher } from './dead-letter.publisher';
import { decodeMessage } from './message-decoder';
import { BatchAbandoned, type ProjectionService } from './projection.service';
import type { ProjectorConfig } from './projector.config';
import type { ProjectorMetrics } from './projector.metrics';

/** Probe run before resuming paused partitions; resolves once the dependency answers again. */
export type RecoveryProbe = () => Promise<void>;

/**
 * The live projector: libs/kafka's batch consumer (positions from Postgres, pause and backoff,
 * empty ranges, Kafka commit after the Postgres commit) with the projection as its handler.
 */
export class ProjectorConsumer {
  private readonly logger = new Logger('projector');
  private readonly consumer: BatchConsumer;
  private readonly deadLetterProducer: DeadLetterProducer;
  private readonly deadLetters: DeadLetterPublisher;
  private readonly admin: TopicAdmin;

  constructor(
    client: KafkaConfig,
    config: ProjectorConfig,
    private readonly projection: ProjectionService,
    private readonly metrics: ProjectorMetrics,
    probe: RecoveryProbe,
  ) {
    this.deadLetterProducer = new DeadLetterProducer(client, config.kafka.deadLetterTopic);
    this.deadLetters = new DeadLetterPublisher(this.deadLetterProducer);
    this.admin = new TopicAdmin(client);
    this.consumer = new BatchConsumer(
      client,
      {
        ...config,
        topic: config.kafka.operationsTopic,
        maxWaitTimeInMs: 500,
        live: true,
        probe,
        connectFirst: () => this.deadLetterProducer.connect(),
        onBatchFailed: () => this.metrics.failures.inc({ stage: 'batch' }),
        onPausedChanged: (paused) => this.metrics.paused.set(paused),
      },
      projection,
      (batch) => this.apply(batch),
      this.logger,
    );
  }

  /** Connects and joins the group; when the broker is down, keeps retrying in the background. */
  start(): Promise<void> {
    return this.consumer.start();
  }

  /** Readiness: the broker answers a metadata request. */
  checkBroker(): Promise<void> {
    return this.admin.checkBroker();
  }

  /** Stops fetching, lets the batch in flight finish or roll back, leaves the group, disconnects. */
  async stop(): Promise<void> {
    await this.consumer.stop();
    await Promise.all([this.deadLetterProducer.disconnect(), this.admin.close()]);
  }

  private async apply(
    batch: ConsumedBatch,
  ): Promise<{ lastOffset: bigint; nextOffset: bigint } | null> {
    const { topic, partition } = batch;
    const startedAt = process.hrtime.bigint();
    try {
      const outcome = await this.projection.apply(
        {
          topic,
          partition,
          messages: batch.messages.map(decodeMessage),
          lastOffset: batch.lastOffset,
        },
        {
          heartbeat: batch.heartbeat,
          isRunning: batch.isRunning,
          deadLetter: (t, p, letters) => this.deadLetters.publish(t, p, letters),
        },
      );
      const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
      this.metrics.recordBatch(outcome, batch.messages.length, seconds);
      const lag = batch.highWatermark - outcome.nextOffset;
      this.metrics.lag.set({ topic, partition: String(partition) }, Number(lag > 0n ? lag : 0n));
      return { lastOffset: batch.lastOffset, nextOffset: outcome.nextOffset };
    } catch (error) {
      if (!(error instanceof BatchAbandoned)) throw error;
      this.logger.log(`partition ${partition}: batch at ${batch.firstOffset} abandoned (stopping)`);
      return null;
    }
  }
}
