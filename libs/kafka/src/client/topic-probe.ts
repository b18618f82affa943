import { type Admin, Kafka, type KafkaConfig } from 'kafkajs';

/**
 * Answers "is the broker reachable and does the topic exist" cheaply, for readiness checks.
 * Concurrent calls share one metadata request; a failed admin client is replaced, so the probe
 * recovers by itself when the broker comes back.
 */
export class KafkaTopicProbe {
  private readonly kafka: Kafka;
  private admin: Admin | null = null;
  private inFlight: Promise<number> | null = null;

  /** `retries`: 0 (one quick try) for readiness checks, whose caller asks again anyway. */
  constructor(
    client: KafkaConfig,
    readonly topic: string,
    private readonly retries = 0,
  ) {
    this.kafka = new Kafka({
      ...client,
      retry: { retries, initialRetryTime: 100, maxRetryTime: 500 },
    });
  }

  /** The topic's partition count; rejects when the broker or the topic is unavailable. */
  partitionCount(): Promise<number> {
    this.inFlight ??= this.fetch().finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  async close(): Promise<void> {
    const admin = this.admin;
    this.admin = null;
    await admin?.disconnect();
  }

  private async fetch(): Promise<number> {
    const admin = (this.admin ??= this.kafka.admin({ retry: { retries: this.retries } }));
    try {
      await admin.connect();
      const { topics } = await admin.fetchTopicMetadata({ topics: [this.topic] });
      const partitions = topics.find((t) => t.name === this.topic)?.partitions.length ?? 0;
      if (partitions === 0) throw new Error(`topic ${this.topic} has no partitions`);
      return partitions;
    } catch (error) {
      if (this.admin === admin) this.admin = null;
      void admin.disconnect().catch(() => undefined);
      throw error;
    }
  }
}
