import { Kafka, type KafkaConfig, Partitioners, type Producer } from 'kafkajs';

/** A record as sent: key and value bytes as they came, provenance in headers. */
export interface OutgoingRecord {
  key: Buffer | string | null;
  value: Buffer | string | null;
  headers: Record<string, string | Buffer>;
}

/**
 * Sends records to a dead-letter topic and waits for every in-sync replica. Not idempotent: that
 * would retry forever while holding the batch that sends them; the batch retries instead.
 */
export class DeadLetterProducer {
  private readonly producer: Producer;

  constructor(
    client: KafkaConfig,
    readonly topic: string,
  ) {
    this.producer = new Kafka(client).producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
      retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 5000 },
    });
  }

  connect(): Promise<void> {
    return this.producer.connect();
  }

  async send(records: readonly OutgoingRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.producer.send({ topic: this.topic, acks: -1, messages: [...records] });
  }

  async disconnect(): Promise<void> {
    await this.producer.disconnect().catch(() => undefined);
  }
}
