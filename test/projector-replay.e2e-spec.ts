import type { Kafka, Producer } from 'kafkajs';
import { type Operation, type RecordView, type RelationView, materialize } from '@sync/protocol';
import { createPgPool } from '@sync/persistence';
import { decodeMessage } from '../apps/projector/src/message-decoder';
import { ProjectionService } from '../apps/projector/src/projection.service';
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
  seededRandom,
  shuffled,
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
} from './support/test-env';

type TestDatabase = Awaited<ReturnType<typeof createTestDatabase>>;

/** Every table the projector writes, minus wall-clock timestamps, in a stable order. */
async function dump(tables: Tables): Promise<Record<string, unknown[]>> {
  const q = (sql: string) => tables.query(sql);
  return {
    libraries: await q(
      'SELECT library_id, partition, operations, rejected, first_offset, last_offset FROM libraries ORDER BY library_id',
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
      'SELECT library_id, log_offset, record_id, operation FROM pending_operations ORDER BY 1, 2',
    ),
    rejected: await q(
      'SELECT library_id, log_offset, operation, reason, message FROM rejected_operations ORDER BY 1, 2',
    ),
    positions: await q('SELECT topic, partition, next_offset FROM partition_offsets ORDER BY 1, 2'),
  };
}

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The pure merge engine's visible state for ops in log order: the oracle the tables must match. */
function expectedState(ops: readonly Operation[]): {
  records: RecordView[];
  relations: RelationView[];
} {
  return materialize(
    schema,
    ops.map((operation, i) => ({ offset: BigInt(i), op: operation })),
  );
}

describe('projector: order independence and replay', () => {
  let database: TestDatabase;
  let topics: TestTopics;
  let kafka: Kafka;
  let producer: Producer;
  let tables: Tables;
  let projector: RunningProjector | undefined;
  const extraDatabases: TestDatabase[] = [];

  beforeAll(async () => {
    database = await createTestDatabase('projreplay');
    topics = await createTestTopics('projreplay', 3);
    kafka = testKafka();
    producer = kafka.producer({ idempotent: true });
    await producer.connect();
    tables = new Tables(database.url);
  });

  afterAll(async () => {
    await projector?.stop();
    await producer?.disconnect();
    await tables?.close();
    await Promise.all([database?.drop(), deleteTestTopics(topics)]);
    for (const extra of extraDatabases) await extra.drop();
  });

  const libraryA = uuid();
  const libraryB = uuid();
  const workload = randomWorkload(7, { records: 60, ops: 1500 });
  const reordered = shuffled(workload, seededRandom(99));

  it('a random multi-node workload produced in two orders into two libraries converges', async () => {
    projector = await startProjector(database.url, topics);
    // Interleaved, so both libraries are applied by the same batches.
    const messages = workload.flatMap((_, i) => [
      ...opMessages(libraryA, [workload[i]]),
      ...opMessages(libraryB, [reordered[i]]),
    ]);
    await produce(producer, topics.operationsTopic, messages);
    await waitForCatchUp(kafka, tables, topics.operationsTopic);

    const [stateA, stateB] = [
      await tables.libraryState(libraryA),
      await tables.libraryState(libraryB),
    ];
    // Identical records (with clocks, owners, deleted ones), relations, feed, pending ops and
    // counters; rejections compared as a set of ops (a reason may depend on when it was found).
    const withoutReasons = (state: unknown) => {
      const s = state as { rejected: { operation: unknown }[] };
      return { ...s, rejected: s.rejected.map((r) => r.operation) };
    };
    expect(withoutReasons(stateA)).toEqual(withoutReasons(stateB));

    // And both equal the pure engine's result.
    for (const [library, ops] of [
      [libraryA, workload],
      [libraryB, reordered],
    ] as const) {
      const expected = expectedState(ops);
      expect(await tables.visibleRecords(library)).toEqual(expected.records);
      const relations = (await tables.visibleRelations(library)).sort(
        (x, y) =>
          byText(x.relation, y.relation) || byText(x.item, y.item) || byText(x.group, y.group),
      );
      expect(relations).toEqual(expected.relations);
    }
    // The workload exercises what it claims to.
    const state = stateA as {
      records: unknown[];
      relations: unknown[];
      rejected: unknown[];
      feed: unknown[];
    };
    expect(state.records.length).toBeGreaterThan(10);
    expect(state.relations.length).toBeGreaterThan(3);
    expect(state.rejected.length).toBeGreaterThan(20);
    expect(state.feed.length).toBeGreaterThan(1000);
    expect(state.feed.length).toBeLessThan(workload.length);
  });

  it('a new consumer group, and the group reset to the earliest offsets, change nothing', async () => {
    await projector!.stop();
    let before = await dump(tables);

    // The projector positions every partition from Postgres, whatever Kafka has committed.
    const admin = kafka.admin();
    await admin.connect();
    await admin.resetOffsets({
      groupId: topics.consumerGroup,
      topic: topics.operationsTopic,
      earliest: true,
    });
    await admin.disconnect();
    for (const groupId of [topics.consumerGroup, `${topics.consumerGroup}-second`]) {
      projector = await startProjector(database.url, topics, { groupId });
      // A marker op proves the projector is live and caught up before comparing.
      const marker = uuid();
      await produce(
        producer,
        topics.operationsTopic,
        opMessages(marker, [op.create(nodes.a, new TestClock().tick(), uuid(), 'Tag', {})]),
      );
      await waitForCatchUp(kafka, tables, topics.operationsTopic);
      await projector.stop();
      const after = await dump(tables);
      const strip = (d: Record<string, unknown[]>) => {
        const out: Record<string, unknown[]> = {};
        for (const [table, rows] of Object.entries(d)) {
          out[table] =
            table === 'positions'
              ? []
              : rows.filter((r) => (r as { library_id: string }).library_id !== marker);
        }
        return out;
      };
      expect(strip(after)).toEqual(strip(before));
      expect(after.operations.length).toBe(before.operations.length + 1);
      before = after;
    }
  });

  it('a fresh database on the same topic (same group, offsets committed) rebuilds the identical state', async () => {
    const fresh = await createTestDatabase('projreplay2');
    extraDatabases.push(fresh);
    const freshTables = new Tables(fresh.url);
    try {
      projector = await startProjector(fresh.url, topics);
      await waitForCatchUp(kafka, freshTables, topics.operationsTopic);
      await projector.stop();
      expect(await dump(freshTables)).toEqual(await dump(tables));
    } finally {
      await freshTables.close();
    }
  });

  it('fencing: a batch applied twice (stale owner after a rebalance) is skipped the second time', async () => {
    const pool = createPgPool({ url: database.url, poolSize: 2, applicationName: 'fencing-test' });
    try {
      const service = new ProjectionService(pool, schema, 100);
      const topic = `fencing.${uuid()}`;
      const library = uuid();
      const clock = new TestClock();
      const ops = [
        op.create(nodes.a, clock.tick(), uuid(), 'Tag', { name: 'x' }),
        op.update(nodes.b, clock.tick(), uuid(), 'name', 'pending'),
      ];
      const messages = ops.map((o, i) =>
        decodeMessage({
          offset: String(i + 10),
          key: Buffer.from(library),
          value: Buffer.from(JSON.stringify(o)),
        }),
      );
      const hooks = {
        heartbeat: () => Promise.resolve(),
        isRunning: () => true,
        deadLetter: () => Promise.resolve(),
      };
      const batch = { topic, partition: 0, messages, lastOffset: 11n };
      // Two concurrent attempts: the row lock serializes them, the second sees the advanced offset.
      const [first, second] = await Promise.all([
        service.apply(batch, hooks),
        service.apply(batch, hooks),
      ]);
      const outcomes = [first, second].sort((x, y) => x.skipped - y.skipped);
      expect(outcomes[0]).toMatchObject({ skipped: 0, accepted: 2, nextOffset: 12n });
      expect(outcomes[1]).toMatchObject({ skipped: 2, accepted: 0, nextOffset: 12n });
      expect(await tables.feed(library)).toHaveLength(2);
      expect(await tables.pending(library)).toHaveLength(1);
      expect(await tables.library(library)).toMatchObject({ operations: '2', rejected: '0' });
      // A later batch overlapping the applied range applies only its new part.
      const third = decodeMessage({
        offset: '12',
        key: Buffer.from(library),
        value: Buffer.from(JSON.stringify(op.create(nodes.a, clock.tick(), uuid(), 'Tag', {}))),
      });
      const overlap = await service.apply(
        { topic, partition: 0, messages: [...messages, third], lastOffset: 12n },
        hooks,
      );
      expect(overlap).toMatchObject({ skipped: 2, accepted: 1, nextOffset: 13n });
      expect(await tables.library(library)).toMatchObject({ operations: '3' });
    } finally {
      await pool.end();
    }
  });

  it('reads committed only: aborted transactional ops never apply, committed ones do, positions pass markers', async () => {
    const library = uuid();
    const clock = new TestClock(1_765_000_000_000);
    projector = await startProjector(database.url, topics);
    const txProducer = kafka.producer({
      transactionalId: `projreplay-${uuid()}`,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await txProducer.connect();
    try {
      const aborted = uuid();
      const committed = uuid();
      const abortTx = await txProducer.transaction();
      await abortTx.send({
        topic: topics.operationsTopic,
        messages: opMessages(library, [
          op.create(nodes.a, clock.tick(), aborted, 'Tag', { name: 'aborted' }),
        ]),
      });
      await abortTx.abort();
      const commitTx = await txProducer.transaction();
      const sent = await commitTx.send({
        topic: topics.operationsTopic,
        messages: opMessages(library, [
          op.create(nodes.a, clock.tick(), committed, 'Tag', { name: 'committed' }),
          op.update(nodes.b, clock.tick(), committed, 'color', 'green'),
        ]),
      });
      await commitTx.commit();
      // Each transaction ends with a control record, so the partition's end is two past the
      // last op once the markers are written; the projector must still reach it (no contiguity
      // assumed).
      await waitForTransactionMarkers(kafka, topics.operationsTopic, sent);
      await waitForCatchUp(kafka, tables, topics.operationsTopic);
      expect(await tables.visibleRecords(library)).toEqual([
        expect.objectContaining({
          id: committed,
          data: expect.objectContaining({ name: 'committed', color: 'green' }),
        }),
      ]);
      expect(await tables.feed(library)).toHaveLength(2);
      const feedOffsets = (await tables.feed(library)).map((f) => BigInt(f.offset));
      // offsets: aborted op, abort marker, two ops, commit marker
      expect(feedOffsets[1] - feedOffsets[0]).toBe(1n);
      const info = await tables.library(library);
      await eventually(async () => {
        const next = (await tables.positions(topics.operationsTopic)).get(info!.partition)!;
        return next >= feedOffsets[1] + 1n ? true : undefined;
      });
    } finally {
      await txProducer.disconnect();
      await projector.stop();
    }
  });
});
