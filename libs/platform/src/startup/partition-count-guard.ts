import { KafkaTopicProbe, type KafkaSettings, kafkaClientConfig } from '@sync/kafka';
import {
  type TopicRecord,
  TopicPartitionsRepository,
  createPgPool,
  redactUrl,
} from '@sync/persistence';

/** Tries of one start-up metadata request (kafkajs backoff); the whole check is tried again. */
const PROBE_RETRIES = 2;

/**
 * The refusal when the operations topic's partition count is not the one recorded for it (or
 * the topic was replaced by a repartition), or undefined when the service may run. Names both
 * counts and the ways out.
 */
export function partitionCountMismatch(
  service: string,
  topic: string,
  actual: number,
  record: TopicRecord,
): string | undefined {
  const recorded = record.partitions;
  if (record.replacedBy !== null) {
    return (
      `${service} refuses to run: topic ${topic} was repartitioned into ${record.replacedBy} ` +
      `and the projection follows that topic now; ops written to ${topic} would never be ` +
      `applied. Set SYNC_TOPIC=${record.replacedBy} (docs/SCALING.md, Partition growth).`
    );
  }
  if (actual === recorded) return undefined;
  return (
    `${service} refuses to run: topic ${topic} has ${actual} partitions, but ${recorded} were ` +
    `recorded for it when it was first used (table topic_partitions). A library's partition is ` +
    `murmur2(library id) mod the partition count, so with ${actual} libraries would move to ` +
    `other partitions and lose their order, their offsets and read-your-writes. Either point ` +
    `SYNC_TOPIC at a topic with ${recorded} partitions, or copy the topic into a new one with ` +
    `\`npm run cli -- repartition --to ${actual}\` and switch the services over as ` +
    `docs/SCALING.md (Partition growth) says.`
  );
}

/**
 * Start-up check of ingest, projector and query: reads the operations topic's partition count
 * from Kafka, records it in Postgres when this database has none for the topic yet, and throws
 * (the service exits non-zero with the message) when the two differ. A broker or database that
 * is down is waited for (the service starts once both answer), as the services wait for them
 * at any other time; an unmigrated database is an error. Returns the count.
 */
export async function verifyTopicPartitions(
  service: string,
  kafka: KafkaSettings,
  databaseUrl: string,
  options: {
    /** The count the service is configured to use instead of the topic's (query: SYNC_TOPIC_PARTITIONS). */
    configured?: number;
    log?: (line: string) => void;
  } = {},
): Promise<number> {
  const log = options.log ?? ((line: string) => console.warn(line));
  let lastReason: string | undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      return await checkOnce(service, kafka, databaseUrl, options.configured);
    } catch (error) {
      if (!(error instanceof Unreachable)) throw error;
      if (error.message !== lastReason) {
        log(`${service}: waiting to check the partition count: ${error.message}`);
        lastReason = error.message;
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 500 * attempt)));
    }
  }
}

/** Kafka or Postgres did not answer: worth another try. */
class Unreachable extends Error {}

/** Postgres: undefined_table (the migrations have not run). */
const UNDEFINED_TABLE = '42P01';

async function checkOnce(
  service: string,
  kafka: KafkaSettings,
  databaseUrl: string,
  configured: number | undefined,
): Promise<number> {
  const topic = kafka.operationsTopic;
  // A configured count is what the service computes partitions with: that is what must match.
  const probe =
    configured === undefined
      ? new KafkaTopicProbe(kafkaClientConfig(kafka), topic, PROBE_RETRIES)
      : { partitionCount: () => Promise.resolve(configured), close: () => Promise.resolve() };
  const pool = createPgPool({
    url: databaseUrl,
    poolSize: 1,
    applicationName: `sync-${service}-partitions`,
    onIdleError: () => undefined,
  });
  try {
    const actual = await probe.partitionCount().catch((error: unknown) => {
      throw new Unreachable(`cannot read the partition count of topic ${topic}: ${reason(error)}`);
    });
    const record = await new TopicPartitionsRepository(pool)
      .recordFirst(topic, actual)
      .catch((error: unknown) => {
        const where = `the recorded partition count of topic ${topic} in ${redactUrl(databaseUrl)}`;
        if ((error as { code?: unknown }).code === UNDEFINED_TABLE) {
          throw new Error(`cannot read ${where}: run the migrations (npm run migrate)`);
        }
        throw new Unreachable(`cannot read ${where}: ${reason(error)}`);
      });
    const mismatch = partitionCountMismatch(service, topic, actual, record);
    if (mismatch !== undefined) throw new Error(mismatch);
    return actual;
  } finally {
    await Promise.all([probe.close().catch(() => undefined), pool.end()]);
  }
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
