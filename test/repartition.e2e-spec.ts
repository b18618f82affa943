import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { INestApplication } from '@nestjs/common';
import type { Kafka } from 'kafkajs';
import { partitionForLibrary } from '@sync/kafka';
import { TopicPartitionsRepository, createPgPool } from '@sync/persistence';
import { createQueryApp } from '../apps/query/src/query.app';
import { readQueryConfig } from '../apps/query/src/query.config';
import {
  type RunningProjector,
  Tables,
  opMessages,
  produce,
  randomWorkload,
  startProjector,
  testKafka,
  uuid,
  waitForCatchUp,
  waitForTransactionMarkers,
} from './projector.harness';
import {
  type TestTopics,
  createTestDatabase,
  createTestTopics,
  deleteTestTopics,
  eventually,
  kafkaBrokers,
} from './support/test-env';

const ROOT = path.join(__dirname, '..');
const TARGET_PARTITIONS = 5;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** `cli repartition ...` as a real child process; SIGKILLed once `killWhen` holds, if given. */
function repartition(
  args: string[],
  env: Record<string, string>,
  killWhen?: (stderr: string) => boolean,
): Promise<Run> {
  return runCli(['repartition', ...args], env, killWhen);
}

function runCli(
  args: string[],
  env: Record<string, string>,
  killWhen?: (stderr: string) => boolean,
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['-r', './test/projector.child-register.js', 'apps/cli/src/main.ts', ...args],
      { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env } },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (killWhen?.(stderr)) child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Every committed message of a topic as [partition, key, value], in log order per partition. */
async function readTopic(
  kafka: Kafka,
  topic: string,
  expected: number,
): Promise<{ partition: number; key: string; value: string }[]> {
  const consumer = kafka.consumer({ groupId: `repartition-read-${uuid()}` });
  const seen: { partition: number; offset: bigint; key: string; value: string }[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        seen.push({
          partition,
          offset: BigInt(message.offset),
          key: message.key?.toString() ?? '',
          value: message.value?.toString() ?? '',
        });
        await Promise.resolve();
      },
    });
    await eventually(() => Promise.resolve(seen.length >= expected ? true : undefined), 60_000);
    // A message copied twice would arrive after the expected count: give it the time to.
    await new Promise((resolve) => setTimeout(resolve, 1500));
  } finally {
    await consumer.disconnect();
  }
  return seen
    .sort((a, b) => a.partition - b.partition || Number(a.offset - b.offset))
    .map(({ partition, key, value }) => ({ partition, key, value }));
}

/** Values per key, in the order they appear in the topic. */
function perLibrary(messages: { key: string; value: string }[]): Map<string, string[]> {
  const byKey = new Map<string, string[]>();
  for (const { key, value } of messages) byKey.set(key, [...(byKey.get(key) ?? []), value]);
  return byKey;
}

interface LibraryView {
  digest: string;
  records: number;
  relations: number;
  feed: unknown[];
}

describe('cli repartition (real Kafka and Postgres)', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let topics: TestTopics;
  let target: string;
  let kafka: Kafka;
  let tables: Tables;
  let projector: RunningProjector | undefined;
  const queries: INestApplication[] = [];
  let env: Record<string, string>;
  const libraries = Array.from({ length: 8 }, () => uuid());
  let sourceMessages: { partition: number; key: string; value: string }[] = [];

  beforeAll(async () => {
    database = await createTestDatabase('repartition');
    topics = await createTestTopics('repartition', 2);
    target = `${topics.operationsTopic}.p${TARGET_PARTITIONS}`;
    kafka = testKafka('repartition-test');
    tables = new Tables(database.url);
    env = {
      KAFKA_BROKERS: kafkaBrokers().join(','),
      SYNC_TOPIC: topics.operationsTopic,
      SYNC_DLQ_TOPIC: topics.deadLetterTopic,
      PROJECTOR_GROUP: topics.consumerGroup,
      DATABASE_URL: database.url,
    };
  }, 60_000);

  afterAll(async () => {
    await Promise.all(queries.map((q) => q.close()));
    await projector?.stop();
    await tables?.close();
    await Promise.all([database?.drop(), deleteTestTopics(topics)]);
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [target] }).catch(() => undefined);
    await admin.disconnect();
  });

  async function queryOn(topic: string): Promise<string> {
    const app = await createQueryApp(
      readQueryConfig({ ...env, SYNC_TOPIC: topic, SYNC_AUTH_DISABLED: 'true' }),
    );
    app.useLogger(['error']);
    await app.listen(0, '127.0.0.1');
    queries.push(app);
    return `http://127.0.0.1:${(app.getHttpServer() as { address(): AddressInfo }).address().port}`;
  }

  async function view(queryUrl: string): Promise<Map<string, LibraryView>> {
    const views = new Map<string, LibraryView>();
    for (const library of libraries) {
      const digest = (await (await fetch(`${queryUrl}/libraries/${library}/digest`)).json()) as {
        digest: string;
        records: number;
        relations: number;
      };
      const feed: unknown[] = [];
      let cursor: string | null = null;
      do {
        const params = new URLSearchParams({ limit: '1000' });
        if (cursor !== null) params.set('cursor', cursor);
        const page = (await (
          await fetch(`${queryUrl}/libraries/${library}/operations?${params.toString()}`)
        ).json()) as { items: { operation: unknown }[]; nextCursor: string | null };
        // Offsets change with the partition; the ops and their order must not.
        feed.push(...page.items.map((item) => item.operation));
        cursor = page.nextCursor;
      } while (cursor !== null);
      views.set(library, {
        digest: digest.digest,
        records: digest.records,
        relations: digest.relations,
        feed,
      });
    }
    return views;
  }

  it('copies a populated topic exactly once, resumes after SIGKILL, and the switch keeps state and feed', async () => {
    // A populated topic: eight libraries over both partitions, the last ops in a transaction
    // (so partitions end in transaction markers, which a copy must step over).
    const producer = kafka.producer({ idempotent: true });
    await producer.connect();
    for (const [i, library] of libraries.entries()) {
      await produce(
        producer,
        topics.operationsTopic,
        opMessages(library, randomWorkload(40 + i, { records: 30, ops: 1500 })),
      );
    }
    await producer.disconnect();
    const transactional = kafka.producer({
      transactionalId: `repartition-test-${uuid()}`,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await transactional.connect();
    const transaction = await transactional.transaction();
    const sent = await transaction.send({
      topic: topics.operationsTopic,
      messages: libraries.flatMap((library, i) =>
        opMessages(library, randomWorkload(90 + i, { records: 5, ops: 20 })),
      ),
    });
    await transaction.commit();
    await transactional.disconnect();
    await waitForTransactionMarkers(kafka, topics.operationsTopic, sent);
    const total = libraries.length * (1500 + 20);

    projector = await startProjector(database.url, topics);
    await waitForCatchUp(kafka, tables, topics.operationsTopic, 120_000);
    const before = await view(await queryOn(topics.operationsTopic));
    expect([...before.values()].every((v) => v.feed.length > 0)).toBe(true);
    sourceMessages = await readTopic(kafka, topics.operationsTopic, total);
    expect(sourceMessages).toHaveLength(total);

    // Writes stopped (nothing more is produced); the projectors are stopped before the switch.
    await projector.stop();
    projector = undefined;

    // Interrupted: SIGKILL once some, not all, of it is copied (small transactions).
    const copiedSome = /repartition: ([1-9]\d*) offsets copied this run, ([1-9]\d*) to go/;
    const killed = await repartition(
      ['--to', String(TARGET_PARTITIONS), '--batch-bytes', '4096'],
      env,
      (stderr) => copiedSome.test(stderr),
    );
    expect(killed.signal).toBe('SIGKILL');

    // Resumed: copies the rest and says what comes next.
    const resumed = await repartition(['--to', String(TARGET_PARTITIONS)], env);
    expect(resumed.stderr).toContain(`${topics.operationsTopic} -> ${target}`);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain(
      `complete: ${topics.operationsTopic} is copied into ${target}`,
    );
    expect(resumed.stdout).toContain(`--from-topic ${topics.operationsTopic}`);

    // Run again: nothing left, nothing copied twice.
    const again = await repartition(['--to', String(TARGET_PARTITIONS), '--json'], env);
    expect(again.code).toBe(0);
    const summary = JSON.parse(again.stdout) as { copied: string; remaining: string };
    expect(summary).toMatchObject({ copied: '0', remaining: '0' });

    // The target: every message once, each library on its partition under the new count, in
    // its source order.
    const copied = await readTopic(kafka, target, total);
    expect(copied).toHaveLength(total);
    for (const message of copied) {
      expect(message.partition).toBe(partitionForLibrary(message.key, TARGET_PARTITIONS));
    }
    expect(perLibrary(copied)).toEqual(perLibrary(sourceMessages));

    // The projection is rebuilt from the new topic and switched; services follow it.
    const rebuilt = await runCli(['rebuild', '--from-topic', topics.operationsTopic], {
      ...env,
      SYNC_TOPIC: target,
    });
    expect(rebuilt.stderr).toContain('switched in one transaction');
    expect(rebuilt.code).toBe(0);
    projector = await startProjector(database.url, {
      ...topics,
      operationsTopic: target,
      partitions: TARGET_PARTITIONS,
    });
    await waitForCatchUp(kafka, tables, target, 120_000);
    const after = await view(await queryOn(target));
    expect(after).toEqual(before);

    // No service starts on the old topic any more; the new one is recorded with its count.
    const pool = createPgPool({ url: database.url, poolSize: 1, applicationName: 'test' });
    try {
      const repository = new TopicPartitionsRepository(pool);
      expect(await repository.recorded(topics.operationsTopic)).toEqual({
        partitions: 2,
        replacedBy: target,
      });
      expect(await repository.recorded(target)).toEqual({
        partitions: TARGET_PARTITIONS,
        replacedBy: null,
      });
    } finally {
      await pool.end();
    }
  }, 300_000);

  it('refuses the source as target, and a missing --to, with exit 2', async () => {
    const wrong = await repartition(['--to', '3', '--target', topics.operationsTopic], env);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('--target must differ from SYNC_TOPIC');
    const missing = await repartition([], env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('repartition needs --to <partitions>');
  }, 60_000);
});
