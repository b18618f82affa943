import type { Kafka, KafkaMessage, Producer } from 'kafkajs';
import {
  type RunningProjector,
  TestClock,
  Tables,
  nodes,
  op,
  opMessages,
  produce,
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

/**
 * Contract section 5, rule by rule, end to end: ops produced straight into the topic, applied by
 * an in-process projector, asserted on the tables the query service reads.
 */
describe('projector: merge rules end to end (contract section 5)', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let topics: TestTopics;
  let kafka: Kafka;
  let producer: Producer;
  let projector: RunningProjector;
  let tables: Tables;
  const clock = new TestClock();
  const { a, b } = nodes;

  /** Produces ops of one library and waits until the projector has applied them. */
  async function apply(libraryId: string, ...ops: Parameters<typeof opMessages>[1]): Promise<void> {
    await produce(producer, topics.operationsTopic, opMessages(libraryId, ops));
    await waitForCatchUp(kafka, tables, topics.operationsTopic);
  }

  beforeAll(async () => {
    database = await createTestDatabase('projrules');
    topics = await createTestTopics('projrules', 3);
    kafka = testKafka();
    producer = kafka.producer({ idempotent: true });
    await producer.connect();
    tables = new Tables(database.url);
    projector = await startProjector(database.url, topics);
  });

  afterAll(async () => {
    await projector?.stop();
    await producer?.disconnect();
    await tables?.close();
    await Promise.all([database?.drop(), deleteTestTopics(topics)]);
  });

  describe('records', () => {
    it('R1: visible once created, hidden for good by a DELETE whatever comes after', async () => {
      const lib = uuid();
      const tag = uuid();
      await apply(lib, op.create(a, clock.tick(), tag, 'Tag', { name: 'red' }));
      expect(await tables.visibleRecords(lib)).toEqual([
        {
          id: tag,
          model: 'Tag',
          data: {
            name: 'red',
            color: null,
            is_hidden: null,
            date_created: null,
            date_modified: null,
          },
        },
      ]);

      await apply(lib, op.delete(b, clock.tick(), tag));
      expect(await tables.visibleRecords(lib)).toEqual([]);

      // Later CREATE and UPDATE (greater timestamps) do not bring it back.
      await apply(
        lib,
        op.create(a, clock.tick(), tag, 'Tag', { name: 'again' }),
        op.update(b, clock.tick(), tag, 'name', 'still gone'),
      );
      expect(await tables.visibleRecords(lib)).toEqual([]);
      const [row] = await tables.query<{ deleted: boolean }>(
        'SELECT deleted FROM records WHERE library_id = $1 AND record_id = $2',
        [lib, tag],
      );
      expect(row.deleted).toBe(true);
    });

    it('R2: each field holds the greatest write by (hybrid, node), whatever the arrival order', async () => {
      const lib = uuid();
      const obj = uuid();
      const t1 = clock.tick();
      const t2 = clock.tick();
      const t3 = clock.tick();
      const t4 = clock.tick();
      await apply(
        lib,
        op.update(a, t3, obj, 'note', 'newest'), // arrives first, before the CREATE
        op.create(b, t1, obj, 'Object', { note: 'oldest', kind: 1 }),
        op.update(b, t2, obj, 'note', 'middle'),
        // Same hybrid from two nodes: the greater node id wins.
        op.update(a, t2, obj, 'kind', 2),
        op.update(b, t4, obj, 'favorite', true),
        op.update(a, t4, obj, 'favorite', false),
      );
      const [record] = await tables.visibleRecords(lib);
      expect(record.data).toEqual({
        kind: 2, // a@t2 beats the CREATE's kind at t1
        favorite: true, // b@t4 beats a@t4 (b > a)
        important: null,
        hidden: null,
        note: 'newest',
        date_created: null,
        date_accessed: null,
      });
    });

    it('R3: UPDATE and DELETE before the CREATE wait as pending and apply when it arrives', async () => {
      const lib = uuid();
      const kept = uuid();
      const doomed = uuid();
      await apply(
        lib,
        op.update(a, clock.tick(), kept, 'name', 'renamed early'),
        op.delete(b, clock.tick(), doomed),
      );
      expect((await tables.pending(lib)).map((p) => p.record_id).sort()).toEqual(
        [kept, doomed].sort(),
      );
      expect(await tables.visibleRecords(lib)).toEqual([]);
      // Pending ops are accepted: they are in the feed.
      expect(await tables.feed(lib)).toHaveLength(2);

      await apply(
        lib,
        op.create(a, clock.tick(), kept, 'Album', { name: 'created late', is_hidden: false }),
        op.create(a, clock.tick(), doomed, 'Album', { name: 'never visible' }),
      );
      expect(await tables.pending(lib)).toEqual([]);
      const records = await tables.visibleRecords(lib);
      expect(records).toHaveLength(1);
      // The CREATE is later than the early UPDATE, so its name wins (R2); the field still merged.
      expect(records[0]).toMatchObject({
        id: kept,
        data: { name: 'created late', is_hidden: false },
      });
      expect(await tables.feed(lib)).toHaveLength(4);
    });

    it('R3: an early UPDATE newer than the CREATE wins once the CREATE arrives', async () => {
      const lib = uuid();
      const label = uuid();
      const tCreate = clock.tick();
      await apply(lib, op.update(b, clock.tick(), label, 'name', 'from the future'));
      await apply(lib, op.create(a, tCreate, label, 'Label', { name: 'original' }));
      expect(await tables.visibleRecords(lib)).toEqual([
        {
          id: label,
          model: 'Label',
          data: { name: 'from the future', date_created: null, date_modified: null },
        },
      ]);
    });

    it('R4: a record keeps the model of its first CREATE; other models and unknown fields are rejected', async () => {
      const lib = uuid();
      const rec = uuid();
      const mismatch = op.update(b, clock.tick(), rec, 'name', 'x', 'Album');
      const unknown = op.update(b, clock.tick(), rec, 'kind', 3); // Tag has no "kind" (Object has)
      const secondCreate = op.create(b, clock.tick(), rec, 'Label', { name: 'label?' });
      await apply(
        lib,
        op.create(a, clock.tick(), rec, 'Tag', { name: 'tag' }),
        mismatch,
        unknown,
        secondCreate,
      );
      const rejected = await tables.rejected(lib);
      expect(rejected.map((r) => [r.operation, r.reason])).toEqual([
        [mismatch, 'MODEL_MISMATCH'],
        [unknown, 'UNKNOWN_FIELD'],
        [secondCreate, 'MODEL_MISMATCH'],
      ]);
      expect(await tables.visibleRecords(lib)).toEqual([
        expect.objectContaining({
          id: rec,
          model: 'Tag',
          data: expect.objectContaining({ name: 'tag' }),
        }),
      ]);

      // Still enforced once deleted: rejected, not silently ignored.
      await apply(lib, op.delete(a, clock.tick(), rec));
      const afterDelete = op.update(a, clock.tick(), rec, 'name', 'x', 'Album');
      await apply(lib, afterDelete);
      expect((await tables.rejected(lib)).at(-1)).toMatchObject({
        operation: afterDelete,
        reason: 'MODEL_MISMATCH',
      });
      expect(await tables.library(lib)).toMatchObject({ rejected: '4', operations: '2' });
    });

    it('R5: only the owner (node of the first CREATE) may write an owned record, even ops sent before it', async () => {
      const lib = uuid();
      const location = uuid();
      const early = op.update(b, clock.tick(), location, 'name', 'hijack before create');
      await apply(lib, early);
      // Accepted as pending until the CREATE says who owns the record.
      expect(await tables.feed(lib)).toEqual([expect.objectContaining({ operation: early })]);

      const ownerUpdate = op.update(a, clock.tick(), location, 'total_capacity', 100);
      const intruder = op.update(b, clock.tick(), location, 'name', 'hijack');
      const intruderDelete = op.delete(b, clock.tick(), location);
      await apply(
        lib,
        op.create(a, clock.tick(), location, 'Location', { name: 'disk', path: '/mnt' }),
        ownerUpdate,
        intruder,
        intruderDelete,
      );
      const rejected = await tables.rejected(lib);
      expect(rejected.map((r) => [r.operation, r.reason])).toEqual([
        [early, 'NOT_OWNER'],
        [intruder, 'NOT_OWNER'],
        [intruderDelete, 'NOT_OWNER'],
      ]);
      // The early op was revoked: no longer in the feed, no longer pending.
      const feed = (await tables.feed(lib)).map((f) => f.operation);
      expect(feed).not.toContainEqual(early);
      expect(feed).toHaveLength(2);
      expect(await tables.pending(lib)).toEqual([]);
      const [record] = await tables.visibleRecords(lib);
      expect(record.data).toMatchObject({ name: 'disk', path: '/mnt', total_capacity: 100 });
      const [row] = await tables.query<{ owner: string }>(
        'SELECT owner FROM records WHERE library_id = $1 AND record_id = $2',
        [lib, location],
      );
      expect(row.owner).toBe(a);
      expect(await tables.library(lib)).toMatchObject({ operations: '2', rejected: '3' });

      // Ownership survives the delete.
      await apply(lib, op.delete(a, clock.tick(), location));
      const late = op.update(b, clock.tick(), location, 'name', 'after delete');
      await apply(lib, late);
      expect((await tables.rejected(lib)).at(-1)).toMatchObject({
        operation: late,
        reason: 'NOT_OWNER',
      });
    });
  });

  describe('relations', () => {
    it('L1: exists iff the greatest CREATE/DELETE is a CREATE (removable and re-addable, any order)', async () => {
      const lib = uuid();
      const object = uuid();
      const tag = uuid();
      const t1 = clock.tick();
      const t2 = clock.tick();
      const t3 = clock.tick();
      await apply(
        lib,
        op.create(a, clock.tick(), object, 'Object', {}),
        op.create(a, clock.tick(), tag, 'Tag', { name: 't' }),
        // Out of order: re-add (t3), then the original add (t1), then the remove (t2).
        op.relate(a, t3, 'TagOnObject', object, tag),
        op.relate(b, t1, 'TagOnObject', object, tag),
        op.unrelate(b, t2, 'TagOnObject', object, tag),
      );
      expect(await tables.visibleRelations(lib)).toEqual([
        { relation: 'TagOnObject', item: object, group: tag, data: { date_created: null } },
      ]);
      await apply(lib, op.unrelate(b, clock.tick(), 'TagOnObject', object, tag));
      expect(await tables.visibleRelations(lib)).toEqual([]);
      await apply(lib, op.relate(a, clock.tick(), 'TagOnObject', object, tag));
      expect(await tables.visibleRelations(lib)).toHaveLength(1);
    });

    it('L2: relation fields follow last-writer-wins over CREATE data and UPDATEs', async () => {
      const lib = uuid();
      const object = uuid();
      const album = uuid();
      const tOld = clock.tick();
      const tNew = clock.tick();
      await apply(
        lib,
        op.create(a, clock.tick(), object, 'Object', {}),
        op.create(a, clock.tick(), album, 'Album', {}),
        op.relationUpdate(
          b,
          tNew,
          'ObjectInAlbum',
          object,
          album,
          'date_created',
          '2024-02-02T00:00:00Z',
        ),
        op.relate(a, tOld, 'ObjectInAlbum', object, album, {
          date_created: '2020-01-01T00:00:00Z',
        }),
      );
      expect(await tables.visibleRelations(lib)).toEqual([
        {
          relation: 'ObjectInAlbum',
          item: object,
          group: album,
          data: { date_created: '2024-02-02T00:00:00Z' },
        },
      ]);
    });

    it('L3: a relation waits for both ends, disappears when an end is deleted, needs the declared models', async () => {
      const lib = uuid();
      const object = uuid();
      const label = uuid();
      const notALabel = uuid();
      await apply(
        lib,
        op.relate(a, clock.tick(), 'LabelOnObject', object, label),
        op.relate(a, clock.tick(), 'LabelOnObject', object, notALabel),
        op.create(a, clock.tick(), object, 'Object', {}),
      );
      // Group missing: stored, not visible.
      expect(await tables.visibleRelations(lib)).toEqual([]);
      const [{ n }] = await tables.query<{ n: string }>(
        'SELECT count(*) AS n FROM relations WHERE library_id = $1 AND present',
        [lib],
      );
      expect(n).toBe('2');

      await apply(
        lib,
        op.create(b, clock.tick(), label, 'Label', { name: 'l' }),
        op.create(b, clock.tick(), notALabel, 'Tag', { name: 'wrong model' }),
      );
      expect(await tables.visibleRelations(lib)).toEqual([
        { relation: 'LabelOnObject', item: object, group: label, data: { date_created: null } },
      ]);

      await apply(lib, op.delete(b, clock.tick(), label));
      expect(await tables.visibleRelations(lib)).toEqual([]);
    });
  });

  describe('duplicates, rejections, dead letters', () => {
    it('D1: an exact duplicate changes nothing; same identity with other content is DUPLICATE_CONFLICT', async () => {
      const lib = uuid();
      const tag = uuid();
      const t = clock.tick();
      const create = op.create(a, t, tag, 'Tag', { name: 'once' });
      await apply(lib, create, op.update(b, clock.tick(), tag, 'color', 'blue'));
      const before = await tables.libraryState(lib);

      // Same op again, with its keys in another order: same content.
      const reordered = {
        timestamp: { hybrid: t },
        node: a,
        data: { name: 'once' },
        model: 'Tag',
        recordId: tag,
        type: 'CREATE',
      };
      await produce(producer, topics.operationsTopic, [
        { key: lib, value: JSON.stringify(create) },
        { key: lib, value: JSON.stringify(reordered) },
      ]);
      await waitForCatchUp(kafka, tables, topics.operationsTopic);
      expect(await tables.libraryState(lib)).toEqual(before);

      const conflict = op.create(a, t, tag, 'Tag', { name: 'different' });
      await apply(lib, conflict);
      expect(await tables.rejected(lib)).toEqual([
        expect.objectContaining({ operation: conflict, reason: 'DUPLICATE_CONFLICT' }),
      ]);
      expect(await tables.visibleRecords(lib)).toEqual([
        expect.objectContaining({ data: expect.objectContaining({ name: 'once', color: 'blue' }) }),
      ]);
      expect(await tables.feed(lib)).toHaveLength(2);
    });

    it('D2: schema-level problems become stored rejections with their reason and offset', async () => {
      const lib = uuid();
      const unknownModel = op.create(a, clock.tick(), uuid(), 'Spaceship', { name: 'x' });
      const badValue = op.create(a, clock.tick(), uuid(), 'Object', { kind: 'not an int' });
      const unknownRelation = op.relate(a, clock.tick(), 'TagOnSpaceship', uuid(), uuid());
      await apply(lib, unknownModel, badValue, unknownRelation);
      const rejected = await tables.rejected(lib);
      expect(rejected.map((r) => [r.operation, r.reason])).toEqual([
        [unknownModel, 'UNKNOWN_MODEL'],
        [badValue, 'INVALID_VALUE'],
        [unknownRelation, 'UNKNOWN_MODEL'],
      ]);
      const offsets = rejected.map((r) => BigInt(r.offset));
      expect(offsets[0] < offsets[1] && offsets[1] < offsets[2]).toBe(true);
      expect(await tables.library(lib)).toMatchObject({ rejected: '3', operations: '0' });
      expect(await tables.feed(lib)).toEqual([]);
    });

    it('D3: messages that are not ops go to the dead-letter topic with headers; good ones around them apply', async () => {
      const lib = uuid();
      const first = uuid();
      const last = uuid();
      const good = (id: string) =>
        JSON.stringify(op.create(a, clock.tick(), id, 'Tag', { name: id }));
      const poison = [
        { key: lib, value: '{"type":"CREATE",', reason: 'INVALID_JSON' },
        {
          key: lib,
          value: JSON.stringify({ type: 'CREATE', recordId: 'nope' }),
          reason: 'INVALID_OPERATION',
        },
        { key: null, value: good(uuid()), reason: 'MISSING_KEY' },
        { key: 'not-a-uuid', value: good(uuid()), reason: 'INVALID_KEY' },
        {
          key: lib,
          value: JSON.stringify({ ...op.create(a, clock.tick(), uuid(), 'Tag', {}), hybrid: 1 }),
          reason: 'INVALID_OPERATION',
        },
        {
          key: lib,
          value: JSON.stringify(
            op.create(a, clock.tick(), uuid(), 'Tag', { name: 'nul\u0000byte' }),
          ),
          reason: 'INVALID_OPERATION',
        },
      ];
      // Keyed poison goes to the library's partition, between good ops; unkeyed ones anywhere.
      const dlq = kafka.consumer({ groupId: `${topics.consumerGroup}-dlq-reader` });
      const letters: { message: KafkaMessage; partition: number }[] = [];
      await dlq.connect();
      await dlq.subscribe({ topic: topics.deadLetterTopic, fromBeginning: true });
      await dlq.run({
        eachMessage: ({ message, partition }) => {
          letters.push({ message, partition });
          return Promise.resolve();
        },
      });
      try {
        await produce(producer, topics.operationsTopic, [
          { key: lib, value: good(first) },
          ...poison.map(({ key, value }) => ({ key, value })),
          { key: lib, value: good(last) },
        ]);
        await waitForCatchUp(kafka, tables, topics.operationsTopic);
        expect((await tables.visibleRecords(lib)).map((r) => r.id).sort()).toEqual(
          [first, last].sort(),
        );

        await eventually(
          () => Promise.resolve(letters.length >= poison.length ? true : undefined),
          30000,
        );
        expect(letters).toHaveLength(poison.length);
        const headers = letters.map(({ message }) =>
          Object.fromEntries(
            Object.entries(message.headers ?? {}).map(([k, v]) => [k, v?.toString()]),
          ),
        );
        expect(headers.map((h) => h.reason).sort()).toEqual(poison.map((p) => p.reason).sort());
        for (const [i, h] of headers.entries()) {
          expect(h['original-topic']).toBe(topics.operationsTopic);
          expect(h['original-partition']).toMatch(/^\d+$/);
          expect(h['original-offset']).toMatch(/^\d+$/);
          expect(h.message).toEqual(expect.any(String));
          // The dead letter carries the original bytes.
          const source = poison.find((p) => p.value === letters[i].message.value?.toString());
          expect(source).toBeDefined();
          expect(h.reason).toBe(source!.reason);
          if (source!.key !== null) expect(h['original-key']).toBe(source!.key);
        }
        // Provenance: keyed poison sits on the library's partition, between the two good ops.
        const library = await tables.library(lib);
        const feed = await tables.feed(lib);
        const [low, high] = [BigInt(feed[0].offset), BigInt(feed[1].offset)];
        const keyed = headers.filter((h) => h['original-key'] === lib);
        expect(keyed).toHaveLength(4);
        for (const h of keyed) {
          expect(Number(h['original-partition'])).toBe(library!.partition);
          const offset = BigInt(h['original-offset']!);
          expect(offset > low && offset < high).toBe(true);
        }
        expect(new Set(keyed.map((h) => h['original-offset'])).size).toBe(keyed.length);

        // No rejections for dead letters; they are not ops of the library.
        expect(await tables.rejected(lib)).toEqual([]);
        expect(await tables.library(lib)).toMatchObject({ operations: '2', rejected: '0' });
      } finally {
        await dlq.disconnect();
      }
    });
  });

  it('records its position and counters per library, and notifies on commit', async () => {
    const lib = uuid();
    const listener = new Tables(database.url);
    const client = await listener.pool.connect();
    const notes: string[] = [];
    client.on('notification', (n) => notes.push(n.payload ?? ''));
    await client.query('LISTEN sync_applied');
    try {
      await apply(
        lib,
        op.create(a, clock.tick(), uuid(), 'Tag', {}),
        op.create(a, clock.tick(), uuid(), 'Tag', {}),
      );
      const library = await tables.library(lib);
      expect(library).toBeDefined();
      const positions = await tables.positions(topics.operationsTopic);
      const next = positions.get(library!.partition)!;
      expect(BigInt(library!.last_offset)).toBe(next - 1n);
      expect(BigInt(library!.first_offset)).toBe(next - 2n);
      await eventually(() =>
        Promise.resolve(
          notes.includes(`${topics.operationsTopic}:${library!.partition}:${next}`)
            ? true
            : undefined,
        ),
      );
    } finally {
      client.release();
      await listener.close();
    }
  });
});
