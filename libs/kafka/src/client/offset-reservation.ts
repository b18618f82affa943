import { Kafka, type KafkaConfig, type Producer } from 'kafkajs';

/**
 * Takes up offsets of a topic's partitions that no message will ever be read at: one record per
 * partition written in a Kafka transaction that is then aborted. read_committed consumers (the
 * projector, the rebuild's replay) never see it and move past it as an empty range, so the
 * offset is a position in the partition's order that carries no op: the rebuild files the rows
 * it corrected there, past every offset applied before (docs/ARCHITECTURE.md, rebuild).
 */
export class OffsetReservation {
  private readonly producer: Producer;

  constructor(
    client: KafkaConfig,
    private readonly topic: string,
    transactionalId: string,
  ) {
    this.producer = new Kafka(client).producer({
      transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
    });
  }

  /** Connects ahead of time, so reserve() costs only the transaction's round trips. */
  async connect(): Promise<void> {
    await this.producer.connect();
  }

  /** The offset taken in each of `partitions`, each past everything written there before. */
  async reserve(partitions: readonly number[]): Promise<Map<number, bigint>> {
    const taken = new Map<number, bigint>();
    if (partitions.length === 0) return taken;
    const transaction = await this.producer.transaction();
    try {
      const written = await transaction.send({
        topic: this.topic,
        acks: -1,
        messages: partitions.map((partition) => ({ partition, key: null, value: null })),
      });
      for (const meta of written) taken.set(meta.partition, BigInt(meta.baseOffset ?? '-1'));
    } finally {
      await transaction.abort();
    }
    for (const partition of partitions) {
      if ((taken.get(partition) ?? -1n) < 0n) {
        throw new Error(`no offset reserved in ${this.topic} partition ${partition}`);
      }
    }
    return taken;
  }

  async close(): Promise<void> {
    await this.producer.disconnect().catch(() => undefined);
  }
}
