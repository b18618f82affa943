import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { createDataSource } from '@sync/persistence';
import {
  type TestTopics,
  createTestDatabase,
  createTestTopics,
  deleteTestTopics,
  eventually,
  kafkaBrokers,
} from './support/test-env';

describe('infrastructure smoke: real Kafka and real Postgres', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  /** The test's topics, deleted here once its clients are closed. */
  let created: TestTopics | undefined;

  beforeAll(async () => {
    database = await createTestDatabase('smoke');
  });

  afterAll(async () => {
    await Promise.all([database.drop(), deleteTestTopics(created)]);
  });

  it('produces, consumes in a group, commits, and stores a row in Postgres', async () => {
    const topics = await createTestTopics('smoke', 1);
    created = topics;
    const kafka = new Kafka({
      clientId: 'smoke',
      brokers: kafkaBrokers(),
      logLevel: logLevel.NOTHING,
    });
    const producer = kafka.producer({ idempotent: true });
    const consumer = kafka.consumer({ groupId: topics.consumerGroup });
    const dataSource = createDataSource({ url: database.url, poolSize: 2 });
    await Promise.all([producer.connect(), consumer.connect(), dataSource.initialize()]);
    try {
      const libraryId = randomUUID();
      await producer.send({
        topic: topics.operationsTopic,
        acks: -1,
        messages: [{ key: libraryId, value: JSON.stringify({ hello: 'world' }) }],
      });

      await consumer.subscribe({ topic: topics.operationsTopic, fromBeginning: true });
      const consumed: { offset: string; key: string }[] = [];
      await consumer.run({
        autoCommit: false,
        eachMessage: async ({ topic, partition, message }) => {
          await dataSource.query(
            `INSERT INTO partition_offsets (topic, partition, next_offset) VALUES ($1, $2, $3)`,
            [topic, partition, (BigInt(message.offset) + 1n).toString()],
          );
          await consumer.commitOffsets([
            { topic, partition, offset: (BigInt(message.offset) + 1n).toString() },
          ]);
          consumed.push({ offset: message.offset, key: message.key?.toString() ?? '' });
        },
      });

      await eventually(() => Promise.resolve(consumed.length > 0 ? true : undefined), 30000);
      expect(consumed).toEqual([{ offset: '0', key: libraryId }]);

      const rows: { next_offset: string }[] = await dataSource.query(
        `SELECT next_offset FROM partition_offsets WHERE topic = $1`,
        [topics.operationsTopic],
      );
      expect(rows).toEqual([{ next_offset: '1' }]);

      const admin = kafka.admin();
      await admin.connect();
      const committed = await admin.fetchOffsets({
        groupId: topics.consumerGroup,
        topics: [topics.operationsTopic],
      });
      await admin.disconnect();
      expect(committed[0]?.partitions).toEqual([
        expect.objectContaining({ partition: 0, offset: '1' }),
      ]);
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
      await dataSource.destroy();
    }
  });
});
