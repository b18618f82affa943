import { Logger } from '@nestjs/common';
import {
  BatchConsumer,
  BatchConsumerTransport,
  DeadLetterProducer,
  LIVE_BATCH_CONSUMER,
  type KafkaConfig,
  TopicAdmin,
} from '@sync/kafka';
import { DeadLetterPublisher } from './dead-letter.publisher';
import type { ProjectionService } from './projection.service';
import type { ProjectorConfig } from './projector.config';
import type { ProjectorMetrics } from './projector.metrics';

/** Pattern of the projection's handler (ProjectionHandler). */
export const PROJECT_BATCH = 'project-batch';

/** Probe run before resuming paused partitions; resolves once the dependency answers again. */
export type RecoveryProbe = () => Promise<void>;

/**
 * The projector's Kafka side: libs/kafka's batch consumer (positions from Postgres, pause and
 * backoff, empty ranges, Kafka commit after the Postgres commit) as the Nest microservice
 * transport whose batches go to ProjectionHandler, plus the dead-letter producer the handler
 * sends with and the broker check of the readiness probe.
 */
export class ProjectorConsumer {
  readonly transport: BatchConsumerTransport;
  readonly deadLetters: DeadLetterPublisher;
  private readonly logger = new Logger('projector');
  private readonly deadLetterProducer: DeadLetterProducer;
  private readonly admin: TopicAdmin;

  constructor(
    client: KafkaConfig,
    config: ProjectorConfig,
    projection: ProjectionService,
    metrics: ProjectorMetrics,
    probe: RecoveryProbe,
  ) {
    this.deadLetterProducer = new DeadLetterProducer(client, config.kafka.deadLetterTopic);
    this.deadLetters = new DeadLetterPublisher(this.deadLetterProducer);
    this.admin = new TopicAdmin(client);
    this.transport = new BatchConsumerTransport(
      PROJECT_BATCH,
      (handler) =>
        new BatchConsumer(
          client,
          {
            ...config,
            topic: config.kafka.operationsTopic,
            ...LIVE_BATCH_CONSUMER,
            probe,
            connectFirst: () => this.deadLetterProducer.connect(),
            onBatchFailed: () => metrics.failures.inc({ stage: 'batch' }),
            onPausedChanged: (paused) => metrics.paused.set(paused),
          },
          projection,
          handler,
          this.logger,
        ),
    );
  }

  /** Readiness: the broker answers a metadata request. */
  checkBroker(): Promise<void> {
    return this.admin.checkBroker();
  }

  /** After the transport closed (the consumer left the group): the remaining connections. */
  async disconnect(): Promise<void> {
    await Promise.all([this.deadLetterProducer.disconnect(), this.admin.close()]);
  }
}
