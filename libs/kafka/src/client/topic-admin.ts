import { type Admin, Kafka, type KafkaConfig } from 'kafkajs';

export interface PartitionOffsets {
  partition: number;
  /** First offset still in the log. */
  low: bigint;
  /** Offset the next record will get (the log end). */
  high: bigint;
}

/** The admin requests the services and tools make besides the partition count (KafkaTopicProbe). */
export class TopicAdmin {
  private readonly admin: Admin;

  constructor(client: KafkaConfig) {
    this.admin = new Kafka(client).admin();
  }

  /** Readiness: the broker answers a metadata request. */
  async checkBroker(): Promise<void> {
    await this.admin.connect();
    await this.admin.describeCluster();
  }

  async partitionOffsets(topic: string): Promise<PartitionOffsets[]> {
    await this.admin.connect();
    const offsets = await this.admin.fetchTopicOffsets(topic);
    return offsets
      .map((o) => ({ partition: o.partition, low: BigInt(o.low), high: BigInt(o.high) }))
      .sort((a, b) => a.partition - b.partition);
  }

  /** Members of a consumer group now (0 when it is empty or unknown). */
  async groupMembers(groupId: string): Promise<number> {
    await this.admin.connect();
    const { groups } = await this.admin.describeGroups([groupId]);
    return groups[0]?.members.length ?? 0;
  }

  async deleteGroup(groupId: string): Promise<void> {
    await this.admin.connect();
    await this.admin.deleteGroups([groupId]);
  }

  async close(): Promise<void> {
    await this.admin.disconnect().catch(() => undefined);
  }
}
