import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { AssignerProtocol, type Kafka, type Producer } from 'kafkajs';
import { type Operation, emptySlice, mergeBatch, materialize } from '@sync/protocol';
import {
  type RunningProjector,
  Tables,
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
  kafkaBrokers,
} from './support/test-env';

type TestDatabase = Awaited<ReturnType<typeof createTestDatabase>>;

const ROOT = join(__dirname, '..');
const LIBRARIES = 60;
const OPS_PER_LIBRARY = 120;
const ROUNDS = 24;

/** A projector in its own process, so it can be killed with SIGKILL mid-batch. */
function spawnProjector(databaseUrl: string, topics: TestTopics, clientId: string) {
  const output: string[] = [];
  const child: ChildProcess = spawn(
    process.execPath,
    ['-r', './test/projector.child-register.js', 'apps/projector/src/main.ts'],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        KAFKA_BROKERS: kafkaBrokers().join(','),
        KAFKA_CLIENT_ID: clientId,
        SYNC_TOPIC: topics.operationsTopic,
        SYNC_DLQ_TOPIC: topics.deadLetterTopic,
        PROJECTOR_GROUP: topics.consumerGroup,
        DATABASE_URL: databaseUrl,
        PROJECTOR_PORT: '0',
        PROJECTOR_HOST: '127.0.0.1',
        PROJECTOR_SESSION_TIMEOUT_MS: '6000',
        // Small batches: the process is busy with many transactions when it gets killed.
        PROJECTOR_MAX_BATCH_BYTES: '16384',
        KAFKAJS_NO_PARTITIONER_WARNING: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(signal ?? code)),
  );
  return { child, output, exited };
}

/** Client id and partitions of each member of the group, once the group is stable. */
async function assignments(
  kafka: Kafka,
  groupId: string,
): Promise<{ clientId: string; partitions: number[] }[] | undefined> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups([groupId]);
    const group = groups[0];
    if (group?.state !== 'Stable') return undefined;
    return group.members.map((member) => ({
      clientId: member.clientId,
      partitions: Object.values(
        AssignerProtocol.MemberAssignment.decode(member.memberAssignment)?.assignment ?? {},
      ).flat(),
    }));
  } finally {
    await admin.disconnect();
  }
}

/** Every projector table for comparison (timestamps aside). */
async function dump(tables: Tables): Promise<Record<string, unknown[]>> {
  const q = (sql: string) => tables.query(sql);
  return {
    libraries: await q(
      'SELECT library_id, partition, operations, rejected, first_offset, last_offset FROM libraries ORDER BY 1',
    ),
    records: await q(
      'SELECT library_id, record_id, model, owner, deleted, data, clocks, updated_offset FROM records ORDER BY 1, 2',
    ),
    relations: await q(
      'SELECT library_id, relation, item_id, group_id, present, presence_clock, data, clocks, updated_offset FROM relations ORDER BY 1, 2, 3, 4',
    ),
    operations: await q(
      'SELECT library_id, log_offset, node, hybrid, content_hash, operation FROM operations ORDER BY 1, 2',
    ),
    pending: await q(
      'SELECT library_id, log_offset, record_id FROM pending_operations ORDER BY 1, 2',
    ),
    rejected: await q(
      'SELECT library_id, log_offset, operation, reason, message FROM rejected_operations ORDER BY 1, 2',
    ),
    positions: await q('SELECT topic, partition, next_offset FROM partition_offsets ORDER BY 1, 2'),
  };
}

describe('projector: scale-out in one consumer group', () => {
  let databases: TestDatabase[] = [];
  let topics: TestTopics;
  let kafka: Kafka;
  let producer: Producer;
  const running: RunningProjector[] = [];
  const children: ReturnType<typeof spawnProjector>[] = [];

  beforeAll(async () => {
    topics = await createTestTopics('projscale', 6);
    kafka = testKafka();
    producer = kafka.producer({ idempotent: true });
    await producer.connect();
  });

  afterAll(async () => {
    for (const child of children) child.child.kill('SIGKILL');
    for (const projector of running) await projector.stop();
    await producer?.disconnect();
    try {
      for (const database of databases) await database.drop();
    } finally {
      await deleteTestTopics(topics);
    }
  });

  it('three instances, one killed and one added mid-stream: every op applied exactly once, same state as one projector', async () => {
    const [database, single] = (databases = [
      await createTestDatabase('projscale'),
      await createTestDatabase('projscale1'),
    ]);
    const tables = new Tables(database.url);
    const singleTables = new Tables(single.url);
    try {
      const libraries = Array.from({ length: LIBRARIES }, (_, i) => ({
        id: uuid(),
        ops: randomWorkload(1000 + i, { records: 15, ops: OPS_PER_LIBRARY }),
      }));

      running.push(await startProjector(database.url, topics));
      const victim = spawnProjector(database.url, topics, 'projector-victim');
      children.push(victim);
      running.push(await startProjector(database.url, topics));
      const members = await eventually(async () => {
        const current = await assignments(kafka, topics.consumerGroup);
        return current?.length === 3 && current.every((m) => m.partitions.length > 0)
          ? current
          : undefined;
      }, 60000);
      const victimPartitions = members.find((m) => m.clientId === 'projector-victim')!.partitions;
      expect(victimPartitions.length).toBeGreaterThan(0);

      const perRound = Math.ceil(OPS_PER_LIBRARY / ROUNDS);
      let added: RunningProjector | undefined;
      for (let round = 0; round < ROUNDS; round++) {
        const messages = libraries.flatMap((library) =>
          library.ops
            .slice(round * perRound, (round + 1) * perRound)
            .map((o) => ({ key: library.id, value: JSON.stringify(o) })),
        );
        await produce(producer, topics.operationsTopic, messages);
        if (round === 7) {
          // Kill the victim only once it has applied something of its own partitions.
          await eventually(async () => {
            const positions = await tables.positions(topics.operationsTopic);
            return victimPartitions.some((p) => (positions.get(p) ?? 0n) > 0n) ? true : undefined;
          }, 30000);
          victim.child.kill('SIGKILL');
          expect(await victim.exited).toBe('SIGKILL');
        }
        if (round === 14) {
          added = await startProjector(database.url, topics);
          running.push(added);
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      // The group noticed the death (session timeout) and the newcomer got partitions.
      await eventually(async () => {
        const current = await assignments(kafka, topics.consumerGroup);
        return current?.length === 3 && current.every((m) => m.clientId !== 'projector-victim')
          ? true
          : undefined;
      }, 60000);
      await waitForCatchUp(kafka, tables, topics.operationsTopic, 90000);

      // Exactly once: the feed holds each accepted op once, counters match their rows, and each
      // library's state is the merge engine's result over its ops in log order.
      let expectedFeed = 0;
      for (const library of libraries) {
        const logged = library.ops.map((o: Operation, i) => ({ offset: BigInt(i), op: o }));
        const accepted = mergeBatch(schema, emptySlice(), logged).accepted.length;
        expectedFeed += accepted;
        const [{ n: feed }] = await tables.query<{ n: string }>(
          'SELECT count(*) AS n FROM operations WHERE library_id = $1',
          [library.id],
        );
        expect(Number(feed)).toBe(accepted);
        const expected = materialize(schema, logged);
        expect(await tables.visibleRecords(library.id)).toEqual(expected.records);
      }
      const [totals] = await tables.query<{
        ops: string;
        rows: string;
        rejected: string;
        rejectedRows: string;
      }>(
        `SELECT (SELECT sum(operations) FROM libraries) AS ops,
                (SELECT count(*) FROM operations) AS rows,
                (SELECT sum(rejected) FROM libraries) AS rejected,
                (SELECT count(*) FROM rejected_operations) AS "rejectedRows"`,
      );
      expect(Number(totals.rows)).toBe(expectedFeed);
      expect(totals.ops).toBe(totals.rows);
      expect(totals.rejected).toBe(totals.rejectedRows);
      const [{ n: distinct }] = await tables.query<{ n: string }>(
        'SELECT count(DISTINCT (library_id, node, hybrid)) AS n FROM operations',
      );
      expect(Number(distinct)).toBe(expectedFeed);

      // One projector alone, fresh database, same topic: the same tables, row for row.
      const alone = await startProjector(single.url, topics, {
        groupId: `${topics.consumerGroup}-single`,
      });
      running.push(alone);
      await waitForCatchUp(kafka, singleTables, topics.operationsTopic, 90000);
      await alone.stop();
      for (const projector of running) await projector.stop();
      expect(await dump(tables)).toEqual(await dump(singleTables));
    } finally {
      await tables.close();
      await singleTables.close();
    }
  });
});
