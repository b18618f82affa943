import { Kafka, logLevel } from 'kafkajs';
import { type TopicRecord, TopicPartitionsRepository, createPgPool } from '@sync/persistence';
import { ServiceProcess, type ServiceKind } from './faults/support/services';
import {
  type TestTopics,
  createTestDatabase,
  createTestTopics,
  deleteTestTopics,
  kafkaBrokers,
} from './support/test-env';

/*
 * The partition count is part of the data: the first service to start on a topic records its
 * count; once partitions are added to the topic, ingest, projector and query each refuse to
 * start, exit non-zero and say why (both counts) and what to do. Real processes, real Kafka and
 * Postgres.
 */
describe('partition-count guard', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let topics: TestTopics;
  const started: ServiceProcess[] = [];

  const env = () => ({
    KAFKA_BROKERS: kafkaBrokers().join(','),
    SYNC_TOPIC: topics.operationsTopic,
    SYNC_DLQ_TOPIC: topics.deadLetterTopic,
    PROJECTOR_GROUP: topics.consumerGroup,
    DATABASE_URL: database.url,
  });

  beforeAll(async () => {
    database = await createTestDatabase('partition_guard');
    topics = await createTestTopics('partition-guard', 3);
  });

  afterAll(async () => {
    await Promise.all(started.map((service) => service.stop()));
    await Promise.all([database?.drop(), deleteTestTopics(topics)]);
  });

  async function recorded(): Promise<TopicRecord | undefined> {
    const pool = createPgPool({ url: database.url, poolSize: 1, applicationName: 'test' });
    try {
      return await new TopicPartitionsRepository(pool).recorded(topics.operationsTopic);
    } finally {
      await pool.end();
    }
  }

  it('records the count at first start and starts while the topic keeps it', async () => {
    expect(await recorded()).toBeUndefined();
    const ingest = await ServiceProcess.start('ingest', { env: env() });
    started.push(ingest);
    await ingest.ready();
    expect((await recorded())?.partitions).toBe(3);
    await ingest.stop();
    // A second start on the same count passes the check.
    const again = await ServiceProcess.start('ingest', { env: env() });
    started.push(again);
    await again.stop();
  }, 120_000);

  it.each<ServiceKind>(['ingest', 'projector', 'query'])(
    '%s exits non-zero naming both counts once partitions were added to the topic',
    async (kind) => {
      await growTopic(topics.operationsTopic, 4);
      const failure = await ServiceProcess.start(kind, { env: env() }).then(
        (service) => {
          started.push(service);
          return undefined;
        },
        (error: unknown) => (error instanceof Error ? error.message : String(error)),
      );
      expect(failure).toMatch(/exited during start-up \(\{"code":1,"signal":null\}\)/);
      expect(failure).toContain(`${kind} refuses to run`);
      expect(failure).toContain(
        `topic ${topics.operationsTopic} has 4 partitions, but 3 were recorded`,
      );
      expect(failure).toContain('npm run cli -- repartition --to 4');
      // The record is not overwritten by the refused start.
      expect((await recorded())?.partitions).toBe(3);
    },
    120_000,
  );
});

/** Adds partitions to the topic (what an operator might do by hand); no-op once it has them. */
async function growTopic(topic: string, count: number): Promise<void> {
  const admin = new Kafka({
    clientId: 'test-grow',
    brokers: kafkaBrokers(),
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    if (topics[0].partitions.length < count) {
      await admin.createPartitions({ topicPartitions: [{ topic, count }] });
    }
  } finally {
    await admin.disconnect();
  }
}
