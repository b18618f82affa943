import type { AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import { createIngestApp } from '../../apps/ingest/src/ingest.app';
import { readIngestConfig } from '../../apps/ingest/src/ingest.config';
import { createProjectorApp } from '../../apps/projector/src/projector.app';
import { readProjectorConfig } from '../../apps/projector/src/projector.config';
import { createQueryApp } from '../../apps/query/src/query.app';
import { readQueryConfig } from '../../apps/query/src/query.config';
import {
  type TestTopics,
  createTestDatabase,
  createTestTopics,
  deleteTestTopics,
  kafkaBrokers,
} from './test-env';

export interface TestStack {
  database: Awaited<ReturnType<typeof createTestDatabase>>;
  topics: TestTopics;
  /** What every service read: brokers, topics, database, and the `env` asked for. */
  env: Record<string, string>;
  ingest: INestApplication;
  projector: INestApplication;
  query: INestApplication;
  ingestUrl: string;
  projectorUrl: string;
  queryUrl: string;
  /** Stops the services, then drops the database and deletes the topics (afterAll). */
  close(): Promise<void>;
}

export interface TestStackOptions {
  partitions?: number;
  /** Settings of all three services. */
  env?: Record<string, string>;
  /** Settings of the query service only, once the others listen. */
  queryEnv?: (urls: { ingestUrl: string; projectorUrl: string }) => Record<string, string>;
}

export const urlOf = (app: INestApplication): string =>
  `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;

/**
 * Ingest, projector and query in-process, on a database and topics of their own (named after
 * `name`), each listening on a free port of 127.0.0.1.
 */
export async function startTestStack(
  name: string,
  options: TestStackOptions = {},
): Promise<TestStack> {
  const started: INestApplication[] = [];
  const database = await createTestDatabase(name.replace(/-/g, '_'));
  let created: TestTopics | undefined;
  // After a failed start-up too: removes what there is by then.
  const stop = async () => {
    for (const app of started.reverse()) await app.close();
    await Promise.all([database.drop(), deleteTestTopics(created)]);
  };
  try {
    const topics = await createTestTopics(name, options.partitions ?? 3);
    created = topics;
    const env = {
      KAFKA_BROKERS: kafkaBrokers().join(','),
      SYNC_TOPIC: topics.operationsTopic,
      SYNC_DLQ_TOPIC: topics.deadLetterTopic,
      DATABASE_URL: database.url,
      ...options.env,
    };
    const start = async (app: INestApplication) => {
      started.push(app);
      await app.listen(0, '127.0.0.1');
      return app;
    };
    const projector = await start(
      await createProjectorApp(
        readProjectorConfig({ ...env, PROJECTOR_GROUP: topics.consumerGroup }),
      ),
    );
    const ingest = await start(await createIngestApp(readIngestConfig(env)));
    const urls = { ingestUrl: urlOf(ingest), projectorUrl: urlOf(projector) };
    const query = await start(
      await createQueryApp(readQueryConfig({ ...env, ...options.queryEnv?.(urls) })),
    );
    return {
      database,
      topics,
      env,
      ingest,
      projector,
      query,
      ...urls,
      queryUrl: urlOf(query),
      close: stop,
    };
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
}
