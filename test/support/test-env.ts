import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { dropDatabase, migrateDatabase } from '@sync/persistence';

/** A fresh, migrated database for one test file; drop it in afterAll. */
export async function createTestDatabase(
  prefix = 'test',
): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const base = process.env.TEST_DATABASE_BASE_URL ?? process.env.DATABASE_URL;
  if (!base) throw new Error('DATABASE_URL is not set: run through jest (global setup)');
  const name = `sync_${prefix}_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const url = new URL(base);
  url.pathname = `/${name}`;
  await migrateDatabase(url.toString());
  return { url: url.toString(), name, drop: () => dropDatabase(url.toString()) };
}

export function kafkaBrokers(): string[] {
  const brokers = process.env.KAFKA_BROKERS;
  if (!brokers) throw new Error('KAFKA_BROKERS is not set: run through jest (global setup)');
  return brokers.split(',');
}

export interface TestTopics {
  operationsTopic: string;
  deadLetterTopic: string;
  consumerGroup: string;
  partitions: number;
}

/** Topics and a consumer group of their own, so test files can run side by side. */
export async function createTestTopics(prefix = 'test', partitions = 3): Promise<TestTopics> {
  const suffix = randomUUID().slice(0, 8);
  const topics: TestTopics = {
    operationsTopic: `${prefix}.${suffix}.operations`,
    deadLetterTopic: `${prefix}.${suffix}.operations.dlq`,
    consumerGroup: `${prefix}-${suffix}-projector`,
    partitions,
  };
  const admin = new Kafka({
    clientId: 'test-setup',
    brokers: kafkaBrokers(),
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: [topics.operationsTopic, topics.deadLetterTopic].map((topic) => ({
        topic,
        numPartitions: partitions,
        replicationFactor: 1,
        configEntries: [
          { name: 'retention.ms', value: '-1' },
          // Same as the project's topics: a 10 MB batch travels as one record batch.
          { name: 'max.message.bytes', value: '16777216' },
        ],
      })),
    });
  } finally {
    await admin.disconnect();
  }
  return topics;
}

/**
 * Deletes the two topics of createTestTopics, or of createTopics (test/faults) on any brokers.
 * Call it once the services and clients that use them are stopped (afterAll, also after a
 * failure): nothing else removes them from the broker. Housekeeping, not a check: a broker too
 * busy to answer in time is reported on stderr and does not fail the test that ran.
 */
export async function deleteTopics(
  brokers: string[],
  topics: Pick<TestTopics, 'operationsTopic' | 'deadLetterTopic'>,
): Promise<void> {
  const names = [topics.operationsTopic, topics.deadLetterTopic];
  const admin = new Kafka({
    clientId: 'test-teardown',
    brokers,
    logLevel: logLevel.NOTHING,
  }).admin();
  try {
    await admin.connect();
    await admin.deleteTopics({ topics: names, timeout: 30_000 });
  } catch (error) {
    console.warn(`teardown: topics ${names.join(', ')} not deleted: ${String(error)}`);
  } finally {
    await admin.disconnect();
  }
}

/** deleteTopics on the test broker; nothing when the topics were never created. */
export async function deleteTestTopics(topics: TestTopics | undefined): Promise<void> {
  if (topics) await deleteTopics(kafkaBrokers(), topics);
}

/** Polls `probe` until it returns a value that is not undefined, or fails after timeoutMs. */
export async function eventually<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs = 30000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `condition not met within ${timeoutMs} ms${lastError ? `: ${describe(lastError)}` : ''}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : JSON.stringify(error);
}
