import { type Message, type PartitionMetadata, Partitioners } from 'kafkajs';

/**
 * Which broker leads the partition of a key, as of the topic metadata kafkajs last partitioned
 * with (OperationProducer gathers the batches of one broker into one produce request), and the
 * guard that a gathered request still has one leader when kafkajs partitions it.
 */
export class PartitionLeaders {
  private readonly murmur2 = Partitioners.DefaultPartitioner();
  private metadata: PartitionMetadata[] = [];
  private leaderOfPartition = new Map<number, number>();
  /** First message of each gathered send: kafkajs partitions a send from its first message on. */
  private readonly sendStarts = new WeakSet<Message>();
  private sendLeader: number | undefined;

  /** The leader of the key's partition; undefined until kafkajs has partitioned anything. */
  leaderOf(key: Buffer): number | undefined {
    if (this.metadata.length === 0) return undefined;
    const partition = this.murmur2({
      topic: '',
      partitionMetadata: this.metadata,
      message: { key, value: null },
    });
    return this.leaderOfPartition.get(partition);
  }

  /** Marks the first message of a send whose messages must all go to one broker. */
  startSend(first: Message): void {
    this.sendStarts.add(first);
  }

  /**
   * Called by the partitioner for every message it places (through linearlyGrouped, the first
   * of each run of one key: the run's partition): remembers the metadata, and throws
   * SpansBrokersError (before kafkajs writes anything of the send) when a send started with
   * startSend reaches a second leader, as metadata refreshed since the grouping can make it.
   */
  placed(message: Message, partition: number, metadata: PartitionMetadata[]): void {
    if (metadata !== this.metadata) this.remember(metadata);
    const leader = this.leaderOfPartition.get(partition);
    if (this.sendStarts.has(message)) this.sendLeader = leader;
    else if (leader !== this.sendLeader) throw new SpansBrokersError();
  }

  private remember(metadata: PartitionMetadata[]): void {
    this.metadata = metadata;
    this.leaderOfPartition = new Map(metadata.map((p) => [p.partitionId, p.leader]));
  }
}

/** A gathered send whose partitions have more than one leader by the time it is sent. */
export class SpansBrokersError extends Error {
  override name = 'SpansBrokersError';

  constructor() {
    super('the partitions of a gathered produce request have moved to several brokers');
  }
}
