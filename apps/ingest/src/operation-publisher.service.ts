import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import {
  KafkaTopicProbe,
  type LogEntry,
  OperationProducer,
  type PublishResult,
  kafkaClientConfig,
  logLevel,
} from '@sync/kafka';
import type { HealthCheck } from '@sync/platform';
import type { Operation } from '@sync/protocol';
import type { IngestConfig } from './ingest.config';
import { IngestMetrics } from './ingest.metrics';
import { INGEST_CONFIG } from './ingest.tokens';

/** The service's Kafka side: the shared OperationProducer plus a readiness probe. */
@Injectable()
export class OperationPublisher implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('kafka');
  private readonly producer: OperationProducer;
  private readonly probe: KafkaTopicProbe;

  constructor(@Inject(INGEST_CONFIG) config: IngestConfig, metrics: IngestMetrics) {
    const client = { ...kafkaClientConfig(config.kafka), logCreator: this.logCreator() };
    const { publish } = config;
    this.producer = new OperationProducer({
      client,
      topic: config.kafka.operationsTopic,
      mode: publish.mode,
      producers: publish.producers,
      publishTimeoutMs: publish.timeoutMs,
      publishOutcomeTimeoutMs: publish.outcomeTimeoutMs,
      transactionalIdPrefix: publish.transactionalIdPrefix,
      transactionTimeoutMs: publish.transactionTimeoutMs,
      maxRecordBatchBytes: publish.maxRecordBatchBytes,
      onSend: ({ kind, batches, ok }) => metrics.kafkaSend(kind, batches, ok),
    });
    this.probe = new KafkaTopicProbe(client, config.kafka.operationsTopic);
  }

  publish(libraryId: string, ops: readonly Operation[]): Promise<PublishResult> {
    return this.producer.publish(libraryId, ops);
  }

  /** Ready = the broker answers and the operations topic exists. */
  healthCheck(): HealthCheck {
    return { name: 'kafka', check: async () => void (await this.probe.partitionCount()) };
  }

  onApplicationBootstrap(): void {
    // Connecting early (and fencing what a predecessor with the same transactional ids left
    // open) must not keep the service from starting while Kafka is down: readiness says so.
    void this.producer.warmUp().then(({ errors }) => {
      if (errors.length > 0) {
        this.logger.warn(`Kafka not reachable yet (${errors[0]}); publishes will retry`);
      }
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.allSettled([this.producer.close(), this.probe.close()]);
  }

  private logCreator() {
    const logger = this.logger;
    return () =>
      ({ level, log }: LogEntry): void => {
        const { message, error } = log as { message?: string; error?: string };
        // The producers bound retries on purpose (each publish has a deadline, and a failed
        // producer is replaced), which kafkajs warns about for every new producer.
        if (message?.startsWith('Limiting retries for the idempotent producer')) return;
        const text = `${message ?? ''}${error ? `: ${error}` : ''}`;
        // CONCURRENT_TRANSACTIONS: the previous commit of this producer is still being
        // completed; kafkajs retries within milliseconds. Normal, not an error.
        if (text.includes('another concurrent operation on the same transaction')) {
          logger.debug(text);
        } else if (level <= logLevel.ERROR) logger.error(text);
        else if (level === logLevel.WARN) logger.warn(text);
        else logger.debug(text);
      };
  }
}
