import {
  type Admin,
  ConfigResourceTypes,
  Kafka,
  type KafkaConfig,
  type Message,
  Partitioners,
  type Producer,
} from 'kafkajs';

/** Topic settings a copy takes over from its source (the rest are the broker's defaults). */
const COPIED_CONFIGS = ['retention.ms', 'max.message.bytes', 'min.insync.replicas'];
/** Bytes of message values per send inside one transaction, well under max.message.bytes. */
const SEND_CHUNK_BYTES = 4 * 1024 * 1024;
export const DEFAULT_COPY_BATCH_BYTES = 8 * 1024 * 1024;

export interface TopicCopyPlan {
  source: string;
  target: string;
  /** Partition count of the target (created with it when missing). */
  partitions: number;
  /** Bytes fetched per source partition, so per transaction (default DEFAULT_COPY_BATCH_BYTES). */
  batchBytes?: number;
}

/** Where a copy stands: per source partition, the next offset to copy and the goal. */
export interface TopicCopyProgress {
  partitions: { partition: number; position: bigint; goal: bigint }[];
  /** Offsets still to copy, summed over source partitions. */
  remaining: bigint;
  /** Offsets copied by this run. */
  copied: bigint;
}

/**
 * Copies every message of a topic into another with a different partition count, each one
 * under its own key (so a library lands on murmur2(key) mod the new count), source partition
 * by source partition in log order, so a library's order is kept.
 *
 * Exactly once, resumable: each fetched batch is produced in one Kafka transaction together with
 * the consumer group offset of the source partition (`sendOffsets`), so the target never holds
 * a message whose progress was not recorded, nor the reverse. A run that stops (crash, SIGKILL)
 * leaves an open transaction that the next run's producer (same transactional id) aborts; the
 * next run starts at the recorded offsets. Consumers of the target must read committed
 * (kafkajs' default, and the projector's).
 *
 * The copy goes up to the source's end as it was when `copy` started; ops written to the source
 * later are copied by the next run (stop the writers before the last one).
 */
export class TopicCopier {
  private readonly kafka: Kafka;
  readonly groupId: string;
  readonly transactionalId: string;

  constructor(
    client: KafkaConfig,
    readonly plan: TopicCopyPlan,
  ) {
    this.kafka = new Kafka(client);
    this.groupId = `sync-repartition.${plan.source}.${plan.target}`;
    this.transactionalId = `sync-repartition.${plan.source}.${plan.target}`;
  }

  /**
   * Creates the target with the plan's partition count, the source's replication factor and
   * retention settings, unless it exists; an existing target must have the plan's count.
   * Returns true when it was created.
   */
  async ensureTarget(): Promise<boolean> {
    const { source, target, partitions } = this.plan;
    return this.withAdmin(async (admin) => {
      const existing = await partitionCount(admin, target);
      if (existing !== undefined) {
        if (existing !== partitions) {
          throw new Error(
            `topic ${target} exists with ${existing} partitions, not ${partitions}: ` +
              `choose another target topic`,
          );
        }
        return false;
      }
      const { topics } = await admin.fetchTopicMetadata({ topics: [source] });
      const replicationFactor = topics[0]?.partitions[0]?.replicas.length ?? 1;
      const { resources } = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: source, configNames: COPIED_CONFIGS }],
      });
      const configEntries = (resources[0]?.configEntries ?? [])
        .filter((entry) => !entry.isDefault && COPIED_CONFIGS.includes(entry.configName))
        .map((entry) => ({ name: entry.configName, value: entry.configValue }));
      return admin.createTopics({
        waitForLeaders: true,
        topics: [{ topic: target, numPartitions: partitions, replicationFactor, configEntries }],
      });
    });
  }

  /** Where the copy stands now, without copying anything. */
  async progress(): Promise<TopicCopyProgress> {
    const state = await this.withAdmin((admin) => this.readState(admin));
    return summarize(state, state);
  }

  /**
   * Copies from the recorded positions to the source's current end; resolves with the final
   * progress. `onProgress` is called after every committed transaction.
   */
  async copy(onProgress: (progress: TopicCopyProgress) => void): Promise<TopicCopyProgress> {
    const start = await this.withAdmin((admin) => this.readState(admin));
    const positions = new Map(start);
    const report = () => summarize(start, positions);
    if (report().remaining === 0n) return report();

    const producer = this.kafka.producer({
      transactionalId: this.transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    const consumer = this.kafka.consumer({
      groupId: this.groupId,
      readUncommitted: false,
      sessionTimeout: 10_000,
      maxBytesPerPartition: this.plan.batchBytes ?? DEFAULT_COPY_BATCH_BYTES,
      allowAutoTopicCreation: false,
    });
    let finish: (error?: Error) => void = () => undefined;
    const finished = new Promise<void>((resolve, reject) => {
      finish = (error?: Error) => (error === undefined ? resolve() : reject(error));
    });
    const advance = (partition: number, next: bigint) => {
      const entry = positions.get(partition);
      if (entry === undefined || next <= entry.position) return;
      positions.set(partition, { ...entry, position: next });
      onProgress(report());
      if (report().remaining === 0n) finish();
    };
    try {
      await producer.connect();
      await consumer.connect();
      // Batches of only transaction markers or aborted messages never reach eachBatch; the
      // consumer still moves past them, and this is where that shows.
      consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
        if (payload.topic === this.plan.source && payload.batchSize === 0) {
          advance(payload.partition, BigInt(payload.lastOffset) + 1n);
        }
      });
      consumer.on(consumer.events.CRASH, ({ payload }) => finish(payload.error));
      await consumer.subscribe({ topics: [this.plan.source], fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
          if (batch.messages.length === 0 || !isRunning() || isStale()) return;
          // Past the batch's last record, a transaction marker included.
          const last = batch.lastOffset();
          await this.copyBatch(producer, batch.partition, batch.messages, BigInt(last) + 1n);
          resolveOffset(last);
          advance(batch.partition, BigInt(last) + 1n);
          await heartbeat();
        },
      });
      await finished;
    } finally {
      await consumer.disconnect().catch(() => undefined);
      await producer.disconnect().catch(() => undefined);
    }
    return report();
  }

  /** One transaction: the messages into the target, the next source offset into the group. */
  private async copyBatch(
    producer: Producer,
    partition: number,
    messages: {
      key: Buffer | null;
      value: Buffer | null;
      headers?: Message['headers'];
      timestamp: string;
    }[],
    next: bigint,
  ): Promise<void> {
    const transaction = await producer.transaction();
    try {
      for (const chunk of chunks(messages)) {
        await transaction.send({
          topic: this.plan.target,
          acks: -1,
          messages: chunk.map((m) => ({
            key: m.key,
            value: m.value,
            headers: m.headers,
            timestamp: m.timestamp,
          })),
        });
      }
      await transaction.sendOffsets({
        consumerGroupId: this.groupId,
        topics: [{ topic: this.plan.source, partitions: [{ partition, offset: next.toString() }] }],
      });
      await transaction.commit();
    } catch (error) {
      await transaction.abort().catch(() => undefined);
      throw error;
    }
  }

  /** Per source partition: the recorded next offset (or the log start) and the end now. */
  private async readState(admin: Admin): Promise<Map<number, PartitionState>> {
    const ends = await admin.fetchTopicOffsets(this.plan.source);
    const [committed] = await admin.fetchOffsets({
      groupId: this.groupId,
      topics: [this.plan.source],
    });
    const state = new Map<number, PartitionState>();
    for (const end of ends) {
      const recorded = committed?.partitions.find((p) => p.partition === end.partition);
      const position =
        recorded !== undefined && BigInt(recorded.offset) >= 0n
          ? BigInt(recorded.offset)
          : BigInt(end.low);
      state.set(end.partition, { position, goal: BigInt(end.high) });
    }
    return state;
  }

  private async withAdmin<T>(work: (admin: Admin) => Promise<T>): Promise<T> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      return await work(admin);
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }
}

interface PartitionState {
  position: bigint;
  goal: bigint;
}

function summarize(
  start: Map<number, PartitionState>,
  now: Map<number, PartitionState>,
): TopicCopyProgress {
  const partitions = [...now]
    .map(([partition, { position, goal }]) => ({ partition, position, goal }))
    .sort((a, b) => a.partition - b.partition);
  let remaining = 0n;
  let copied = 0n;
  for (const { partition, position, goal } of partitions) {
    if (goal > position) remaining += goal - position;
    copied += position - (start.get(partition)?.position ?? position);
  }
  return { partitions, remaining, copied };
}

async function partitionCount(admin: Admin, topic: string): Promise<number | undefined> {
  if (!(await admin.listTopics()).includes(topic)) return undefined;
  const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
  return topics[0]?.partitions.length;
}

function* chunks<T extends { value: Buffer | null }>(messages: T[]): Generator<T[]> {
  let chunk: T[] = [];
  let bytes = 0;
  for (const message of messages) {
    const size = message.value?.length ?? 0;
    if (chunk.length > 0 && bytes + size > SEND_CHUNK_BYTES) {
      yield chunk;
      chunk = [];
      bytes = 0;
    }
    chunk.push(message);
    bytes += size;
  }
  if (chunk.length > 0) yield chunk;
}
