import { type Admin, Kafka, type KafkaConfig } from 'kafkajs';

/** One partition's offsets as Kafka reports them (decimal strings). */
export interface PartitionEnds {
  partition: number;
  /** Oldest offset still held (log start). */
  low: string;
  /** High watermark: the offset the next message will get. */
  high: string;
}

/**
 * Reads the start and end offsets of topics, for lag and dead-letter counts. One admin client,
 * one quick try per call (the caller asks again on its next refresh); a failed client is
 * replaced, so the reader recovers by itself when the broker comes back.
 */
export class TopicOffsetsReader {
  private readonly kafka: Kafka;
  private admin: Admin | null = null;

  constructor(client: KafkaConfig) {
    this.kafka = new Kafka({ ...client, retry: { retries: 0 } });
  }

  async ends(topic: string): Promise<PartitionEnds[]> {
    const admin = (this.admin ??= this.kafka.admin({ retry: { retries: 0 } }));
    try {
      await admin.connect();
      const offsets = await admin.fetchTopicOffsets(topic);
      return offsets
        .map(({ partition, low, high }) => ({ partition, low, high }))
        .sort((a, b) => a.partition - b.partition);
    } catch (error) {
      if (this.admin === admin) this.admin = null;
      void admin.disconnect().catch(() => undefined);
      throw error;
    }
  }

  async close(): Promise<void> {
    const admin = this.admin;
    this.admin = null;
    await admin?.disconnect();
  }
}
