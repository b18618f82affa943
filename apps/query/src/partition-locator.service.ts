import { Inject, Injectable, Logger } from '@nestjs/common';
import { kafkaClientConfig, partitionForLibrary } from '@sync/kafka';
import { SyncError } from '@sync/platform';
import { Kafka } from 'kafkajs';
import type { QueryConfig } from './query.config';
import { QUERY_CONFIG } from './query.tokens';

/**
 * Where a library's ops go: the partition the projector recorded for it, or, for a library
 * not seen yet, the default partitioner's choice over the topic's partition count. The count
 * comes from SYNC_TOPIC_PARTITIONS when set, else from Kafka topic metadata, cached.
 */
@Injectable()
export class PartitionLocator {
  private readonly logger = new Logger('PartitionLocator');
  private cached?: { count: number; expiresAt: number };
  private inflight?: Promise<number>;

  constructor(@Inject(QUERY_CONFIG) private readonly config: QueryConfig) {}

  /** Partition of a library the projector has not recorded. */
  async partitionOfUnseen(libraryId: string): Promise<number> {
    return partitionForLibrary(libraryId, await this.partitionCount());
  }

  async partitionCount(): Promise<number> {
    if (this.config.topicPartitions !== undefined) return this.config.topicPartitions;
    if (this.cached && this.cached.expiresAt > Date.now()) return this.cached.count;
    this.inflight ??= this.fetchPartitionCount().finally(() => (this.inflight = undefined));
    try {
      const count = await this.inflight;
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

  private async fetchPartitionCount(): Promise<number> {
    const topic = this.config.kafka.operationsTopic;
    const kafka = new Kafka({
      ...kafkaClientConfig(this.config.kafka),
      retry: { retries: 1, initialRetryTime: 100, maxRetryTime: 500 },
    });
    const admin = kafka.admin();
    await admin.connect();
    try {
      const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
      const count = metadata.topics.find((entry) => entry.name === topic)?.partitions.length ?? 0;
      if (count < 1) throw new Error(`topic ${topic} has no partitions`);
      return count;
    } finally {
      await admin.disconnect();
    }
  }
}
