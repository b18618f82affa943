import type { Kafka, Producer } from 'kafkajs';
import { Client } from 'pg';
import request from 'supertest';
import { emptySlice, materialize, mergeBatch } from '@sync/protocol';
import {
  type RunningProjector,
  TestClock,
  Tables,
  nodes,
  op,
  opMessages,
  produce,
  randomWorkload,
  schema,
  startProjector,
  testKafka,
  uuid,
  waitForCatchUp,
} from './projector.harness';
import {
  type TestTopics,
  createTestDatabase,
  createTestTopics,
  deleteTestTopics,
  eventually,
} from './support/test-env';

type TestDatabase = Awaited<ReturnType<typeof createTestDatabase>>;

/** Takes one database away (refuses new connections, ends current ones) and gives it back. */
async function setDatabaseAvailable(database: TestDatabase, available: boolean): Promise<void> {
  const adminUrl = new URL(database.url);
  adminUrl.pathname = '/postgres';
  const admin = new Client({ connectionString: adminUrl.toString() });
  await admin.connect();
  try {
    await admin.query(`ALTER DATABASE "${database.name}" WITH ALLOW_CONNECTIONS ${available}`);
    if (!available) {
      await admin.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
        [database.name],
      );
    }
  } finally {
    await admin.end();
  }
}

/** One sample of a metric from the Prometheus text, by name and label subset. */
function metric(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) {
      return Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return undefined;
}

function logged(ops: ReturnType<typeof randomWorkload>) {
  return ops.map((o, i) => ({ offset: BigInt(i), op: o }));
}

describe('projector: failures, shutdown, health and metrics', () => {
  const databases: TestDatabase[] = [];
  const topicPairs: TestTopics[] = [];
  let kafka: Kafka;
  let producer: Producer;
  let projector: RunningProjector | undefined;

  beforeAll(async () => {
    kafka = testKafka();
    producer = kafka.producer({ idempotent: true });
    await producer.connect();
  });

  afterAll(async () => {
    await projector?.stop();
    await producer?.disconnect();
    try {
      for (const database of databases) {
        await setDatabaseAvailable(database, true).catch(() => undefined);
        await database.drop();
      }
    } finally {
      await Promise.all(topicPairs.map((topics) => deleteTestTopics(topics)));
    }
  });

  async function setup(prefix: string, partitions: number) {
    const database = await createTestDatabase(prefix);
    databases.push(database);
    const topics = await createTestTopics(prefix, partitions);
    topicPairs.push(topics);
    return { database, topics, tables: new Tables(database.url) };
  }

  it('Postgres down: partitions pause and retry with backoff, then resume with nothing lost or repeated', async () => {
    const { database, topics, tables } = await setup('projdown', 2);
    try {
      const library = uuid();
      const ops = randomWorkload(21, { records: 30, ops: 600 });
      projector = await startProjector(database.url, topics);
      const server = projector.app.getHttpServer();
      await produce(producer, topics.operationsTopic, opMessages(library, ops.slice(0, 300)));
      await waitForCatchUp(kafka, tables, topics.operationsTopic);
      await request(server).get('/health/ready').expect(200);

      await setDatabaseAvailable(database, false);
      await produce(producer, topics.operationsTopic, opMessages(library, ops.slice(300)));
      // Batches fail, the partition pauses; the process keeps running and says it is not ready.
      await eventually(async () => {
        const { text } = await request(server).get('/metrics');
        const failures = metric(text, 'projector_batch_failures_total') ?? 0;
        const paused = metric(text, 'projector_paused_partitions') ?? 0;
        return failures >= 1 && paused >= 1 ? true : undefined;
      }, 30000);
      const ready = await request(server).get('/health/ready').expect(503);
      expect(ready.body).toMatchObject({ error: 'NOT_READY' });
      expect(JSON.stringify(ready.body.details)).toContain('postgres');
      await request(server).get('/health/live').expect(200);

      await setDatabaseAvailable(database, true);
      await waitForCatchUp(kafka, tables, topics.operationsTopic, 60000);
      await request(server).get('/health/ready').expect(200);

      const expected = materialize(schema, logged(ops));
      expect(await tables.visibleRecords(library)).toEqual(expected.records);
      const accepted = mergeBatch(schema, emptySlice(), logged(ops)).accepted.length;
      expect(await tables.feed(library)).toHaveLength(accepted);
      const info = await tables.library(library);
      expect(info).toMatchObject({
        operations: String(accepted),
        first_offset: '0',
        last_offset: '599',
      });
      expect(Number(info!.rejected)).toBe((await tables.rejected(library)).length);
    } finally {
      await projector?.stop();
      await tables.close();
    }
  });

  it('starts while Postgres is down and applies once it is back (no crash loop)', async () => {
    const { database, topics, tables } = await setup('projdown2', 1);
    try {
      const library = uuid();
      await setDatabaseAvailable(database, false);
      projector = await startProjector(database.url, topics);
      const clock = new TestClock();
      await produce(
        producer,
        topics.operationsTopic,
        opMessages(library, [op.create(nodes.a, clock.tick(), uuid(), 'Tag', { name: 'late' })]),
      );
      await eventually(async () => {
        const { text } = await request(projector!.app.getHttpServer()).get('/metrics');
        return (metric(text, 'projector_batch_failures_total') ?? 0) >= 1 ? true : undefined;
      }, 30000);
      await setDatabaseAvailable(database, true);
      await waitForCatchUp(kafka, tables, topics.operationsTopic, 60000);
      expect(await tables.visibleRecords(library)).toEqual([
        expect.objectContaining({ model: 'Tag', data: expect.objectContaining({ name: 'late' }) }),
      ]);
    } finally {
      await projector?.stop();
      await tables.close();
    }
  });

  it('graceful shutdown mid-stream leaves exactly a prefix of the log applied, and a restart completes it', async () => {
    const { database, topics, tables } = await setup('projstop', 1);
    try {
      const library = uuid();
      const ops = randomWorkload(33, { records: 400, ops: 12000 });
      await produce(producer, topics.operationsTopic, opMessages(library, ops));
      // Small steps inside big batches: the stop lands between steps of a transaction.
      projector = await startProjector(database.url, topics, {
        chunkOps: 50,
        maxBatchBytes: 256 * 1024,
      });
      await eventually(async () => {
        const next = (await tables.positions(topics.operationsTopic)).get(0) ?? 0n;
        return next > 0n ? true : undefined;
      }, 30000);
      const started = Date.now();
      await projector.stop();
      expect(Date.now() - started).toBeLessThan(15000);

      const applied = Number((await tables.positions(topics.operationsTopic)).get(0) ?? 0n);
      expect(applied).toBeGreaterThan(0);
      expect(applied).toBeLessThan(ops.length);
      // Exactly the first `applied` ops took effect: nothing after, nothing half-done.
      const prefix = logged(ops.slice(0, applied));
      expect(await tables.visibleRecords(library)).toEqual(materialize(schema, prefix).records);
      expect(await tables.feed(library)).toHaveLength(
        mergeBatch(schema, emptySlice(), prefix).accepted.length,
      );
      const [{ max }] = await tables.query<{ max: string | null }>(
        `SELECT max(log_offset) AS max FROM (
           SELECT log_offset FROM operations WHERE library_id = $1
           UNION ALL SELECT log_offset FROM rejected_operations WHERE library_id = $1
           UNION ALL SELECT log_offset FROM pending_operations WHERE library_id = $1) o`,
        [library],
      );
      expect(Number(max)).toBeLessThan(applied);

      projector = await startProjector(database.url, topics);
      await waitForCatchUp(kafka, tables, topics.operationsTopic, 90000);
      expect(await tables.visibleRecords(library)).toEqual(
        materialize(schema, logged(ops)).records,
      );
      expect(await tables.feed(library)).toHaveLength(
        mergeBatch(schema, emptySlice(), logged(ops)).accepted.length,
      );
    } finally {
      await projector?.stop();
      await tables.close();
    }
  });

  it('serves health and the metrics the operators need', async () => {
    const { database, topics, tables } = await setup('projmetrics', 2);
    try {
      projector = await startProjector(database.url, topics);
      const server = projector.app.getHttpServer();
      const library = uuid();
      const clock = new TestClock();
      const tag = uuid();
      await produce(producer, topics.operationsTopic, [
        ...opMessages(library, [
          op.create(nodes.a, clock.tick(), tag, 'Tag', { name: 'x' }),
          op.update(nodes.b, clock.tick(), tag, 'color', 'red'),
          op.update(nodes.b, clock.tick(), uuid(), 'color', 'waiting'), // pending
          op.update(nodes.b, clock.tick(), tag, 'kind', 1), // UNKNOWN_FIELD
        ]),
        { key: library, value: 'not json' }, // dead letter
      ]);
      await waitForCatchUp(kafka, tables, topics.operationsTopic);

      const ready = await request(server).get('/health/ready').expect(200);
      expect(ready.body).toMatchObject({ status: 'ok', checks: { kafka: 'up', postgres: 'up' } });
      const { text } = await request(server).get('/metrics').expect(200);
      expect(metric(text, 'projector_operations_applied_total', { outcome: 'accepted' })).toBe(3);
      expect(metric(text, 'projector_operations_applied_total', { outcome: 'rejected' })).toBe(1);
      expect(metric(text, 'projector_rejections_total', { reason: 'UNKNOWN_FIELD' })).toBe(1);
      expect(metric(text, 'projector_dead_letters_total', { reason: 'INVALID_JSON' })).toBe(1);
      expect(metric(text, 'projector_pending_operations')).toBe(1);
      expect(metric(text, 'projector_batch_size_count')).toBeGreaterThanOrEqual(1);
      expect(metric(text, 'projector_batch_size_sum')).toBe(5);
      expect(metric(text, 'projector_batch_duration_seconds_count')).toBeGreaterThanOrEqual(1);
      const partition = String((await tables.library(library))!.partition);
      expect(metric(text, 'projector_consumer_lag', { partition })).toBe(0);
    } finally {
      await projector?.stop();
      await tables.close();
    }
  });
});
