import { randomUUID } from 'node:crypto';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Kafka, logLevel } from 'kafkajs';
import { createQueryApp } from '../../../apps/query/src/query.app';
import { readQueryConfig } from '../../../apps/query/src/query.config';

/*
 * Sizes, topics and service settings of the fault scenarios.
 *
 * FAULT_SCALE=full runs the sizes of the issue (e.g. 100,000 ops over 50 libraries for the
 * projector kills); the default "ci" sizes keep scenarios 1-7 together within a few minutes on
 * a 2-core machine.
 */

export type FaultScale = 'ci' | 'full';

export function faultScale(): FaultScale {
  const value = (process.env.FAULT_SCALE ?? 'ci').toLowerCase();
  if (value !== 'ci' && value !== 'full') {
    throw new Error(`FAULT_SCALE must be "ci" or "full", got "${process.env.FAULT_SCALE}"`);
  }
  return value;
}

/** The CI size or the full size, by FAULT_SCALE. */
export function scaled<T>(ci: T, full: T): T {
  return faultScale() === 'full' ? full : ci;
}

export interface FaultTopics {
  operationsTopic: string;
  deadLetterTopic: string;
  consumerGroup: string;
  partitions: number;
}

/** Own topics and consumer group on the given brokers (like createTestTopics, any cluster). */
export async function createTopics(
  brokers: string[],
  prefix: string,
  partitions: number,
  options: { replicationFactor?: number; minInsyncReplicas?: number } = {},
): Promise<FaultTopics> {
  const suffix = randomUUID().slice(0, 8);
  const topics: FaultTopics = {
    operationsTopic: `${prefix}.${suffix}.operations`,
    deadLetterTopic: `${prefix}.${suffix}.operations.dlq`,
    consumerGroup: `${prefix}-${suffix}-projector`,
    partitions,
  };
  const admin = new Kafka({ clientId: 'fault-setup', brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: [topics.operationsTopic, topics.deadLetterTopic].map((topic) => ({
        topic,
        numPartitions: partitions,
        replicationFactor: options.replicationFactor ?? 1,
        configEntries: [
          { name: 'retention.ms', value: '-1' },
          { name: 'max.message.bytes', value: '16777216' },
          ...(options.minInsyncReplicas
            ? [{ name: 'min.insync.replicas', value: String(options.minInsyncReplicas) }]
            : []),
        ],
      })),
    });
  } finally {
    await admin.disconnect();
  }
  return topics;
}

/**
 * Deletes the two topics createTopics made (on success and after a failure alike: nothing else
 * removes them from the broker). The one copy of the admin code, shared with createTestTopics.
 */
export { deleteTopics } from '../../support/test-env';

/**
 * Ingest settings: the service defaults, except FAULT_PUBLISH_MODE (when set) picks the publish
 * mode, to run the Kafka fault scenarios against each of them.
 */
export function ingestEnv(
  brokers: string[],
  topics: FaultTopics,
  databaseUrl: string,
  extra: Record<string, string> = {},
) {
  return {
    KAFKA_BROKERS: brokers.join(','),
    // API keys are off here, but the start-up check reads the topic's recorded partition count.
    DATABASE_URL: databaseUrl,
    SYNC_TOPIC: topics.operationsTopic,
    SYNC_DLQ_TOPIC: topics.deadLetterTopic,
    INGEST_TRANSACTIONAL_ID: `fault-ingest-${randomUUID().slice(0, 8)}`,
    ...(process.env.FAULT_PUBLISH_MODE
      ? { INGEST_PUBLISH_MODE: process.env.FAULT_PUBLISH_MODE }
      : {}),
    ...extra,
  };
}

/** The publish mode the ingest children run with (for the results table). */
export function publishMode(): string {
  return process.env.FAULT_PUBLISH_MODE ?? 'default';
}

export function projectorEnv(
  brokers: string[],
  topics: FaultTopics,
  databaseUrl: string,
  extra: Record<string, string> = {},
) {
  return {
    KAFKA_BROKERS: brokers.join(','),
    SYNC_TOPIC: topics.operationsTopic,
    SYNC_DLQ_TOPIC: topics.deadLetterTopic,
    PROJECTOR_GROUP: topics.consumerGroup,
    DATABASE_URL: databaseUrl,
    // The minimum the projector allows: a killed member leaves the group after 6 s.
    PROJECTOR_SESSION_TIMEOUT_MS: '6000',
    PROJECTOR_RETRY_INITIAL_MS: '200',
    PROJECTOR_RETRY_MAX_MS: '2000',
    ...extra,
  };
}

/** A query service child on the fault topics (it reads the partition count from here). */
export function queryEnv(brokers: string[], topics: FaultTopics, databaseUrl: string) {
  return {
    DATABASE_URL: databaseUrl,
    KAFKA_BROKERS: brokers.join(','),
    SYNC_TOPIC: topics.operationsTopic,
    SYNC_DLQ_TOPIC: topics.deadLetterTopic,
    SYNC_TOPIC_PARTITIONS: String(topics.partitions),
  };
}

export interface InProcessQuery {
  url: string;
  close(): Promise<void>;
}

/** A query service in the test process (it is never the one under fault), on port 0. */
export async function startQuery(
  databaseUrl: string,
  topics: FaultTopics,
  brokers: string[],
): Promise<InProcessQuery> {
  const config = readQueryConfig({
    DATABASE_URL: databaseUrl,
    KAFKA_BROKERS: brokers.join(','),
    SYNC_TOPIC: topics.operationsTopic,
    SYNC_DLQ_TOPIC: topics.deadLetterTopic,
    SYNC_TOPIC_PARTITIONS: String(topics.partitions),
    QUERY_DB_POOL_SIZE: '4',
  });
  const app: NestFastifyApplication = await createQueryApp(config);
  app.useLogger(process.env.FAULT_LOGS ? ['error', 'warn'] : false);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, close: () => app.close() };
}

/** A promise for "later", with a bounded wait: resolves false on timeout. */
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  intervalMs = 100,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  return condition();
}
