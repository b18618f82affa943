import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { KafkaTopicProbe, kafkaClientConfig, partitionForLibrary } from '@sync/kafka';
import { SyncError } from '@sync/platform';
import type { QueryConfig } from './query.config';
import { QUERY_CONFIG } from './query.tokens';

/**
 * Where a library's ops go: the partition the projector recorded for it, or, for a library
 * not seen yet, the default partitioner's choice over the topic's partition count. The count
 * comes from SYNC_TOPIC_PARTITIONS when set, else from Kafka topic metadata, cached.
 */
@Injectable()
export class PartitionLocator implements OnModuleDestroy {
  private readonly logger = new Logger('PartitionLocator');
  private readonly probe: KafkaTopicProbe;
  private cached?: { count: number; expiresAt: number };

  constructor(@Inject(QUERY_CONFIG) private readonly config: QueryConfig) {
    // One retry: an answer to a request, not a readiness check asked again anyway.
    this.probe = new KafkaTopicProbe(
      kafkaClientConfig(config.kafka),
      config.kafka.operationsTopic,
      1,
    );
  }

  async onModuleDestroy(): Promise<void> {
    await this.probe.close().catch(() => undefined);
  }

  /** Partition of a library the projector has not recorded. */
  async partitionOfUnseen(libraryId: string): Promise<number> {
    return partitionForLibrary(libraryId, await this.partitionCount());
  }

  async partitionCount(): Promise<number> {
    if (this.config.topicPartitions !== undefined) return this.config.topicPartitions;
    if (this.cached && this.cached.expiresAt > Date.now()) return this.cached.count;
    try {
      // Concurrent calls share one metadata request (the probe's).
      const count = await this.probe.partitionCount();
      this.cached = { count, expiresAt: Date.now() + this.config.partitionCountTtlMs };
      return count;
    } catch (error) {
      // A stale count beats no answer: partitions are rarely added to a live topic.
      if (this.cached) return this.cached.count;
      const reason = error instanceof Error ? error.message : String(error);
      this.logger.warn(`partition count of ${this.config.kafka.operationsTopic}: ${reason}`);
      throw new SyncError(
        'BROKER_UNAVAILABLE',
        `cannot read the partition count of topic ${this.config.kafka.operationsTopic} from Kafka: ${reason}`,
      );
    }
  }
}
