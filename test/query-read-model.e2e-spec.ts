import { randomUUID } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import { partitionForLibrary } from '@sync/kafka';
import { Pool } from 'pg';
import request from 'supertest';
import { createQueryApp } from '../apps/query/src/query.app';
import { readQueryConfig } from '../apps/query/src/query.config';
import {
  insertLibrary,
  insertOperation,
  insertPending,
  insertRecord,
  insertRecords,
  insertRejected,
  insertRelation,
  recordCreate,
  recordUpdate,
  setApplied,
  sortedIds,
} from './query-fixtures';
import {
  type TestTopics,
  createTestDatabase,
  createTestTopics,
  deleteTestTopics,
  kafkaBrokers,
} from './support/test-env';

/**
 * The query service against a real Postgres seeded with SQL the way the projector writes it;
 * the full ingest -> Kafka -> projector -> query path is in query-pipeline.e2e-spec.ts.
 */
describe('query service over a seeded database', () => {
  const topic = `query-test.${randomUUID().slice(0, 8)}.operations`;
  const PARTITIONS = 3;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let pool: Pool;
  let app: INestApplication;
  let http: ReturnType<typeof request>;

  beforeAll(async () => {
    database = await createTestDatabase('query');
    pool = new Pool({ connectionString: database.url, max: 4 });
    // pool.end() resolves before idle sockets are closed; the forced DROP DATABASE in afterAll
    // may then kill one, which pg-pool re-emits as 'error' (an unhandled error without this).
    pool.on('error', () => undefined);
    app = await createQueryApp(
      readQueryConfig({
        DATABASE_URL: database.url,
        SYNC_TOPIC: topic,
        SYNC_TOPIC_PARTITIONS: String(PARTITIONS),
        QUERY_OFFSET_RECHECK_MS: '200',
        QUERY_DB_POOL_SIZE: '4',
      }),
    );
    await app.listen(0, '127.0.0.1');
    http = request(app.getHttpServer());
  });

  afterAll(async () => {
    await app?.close();
    await pool?.end();
    await database?.drop();
  });

  // Applied offsets only rise (as in production); every test moves them past all earlier ones.
  let offsetBase = 0;
  const freshBase = (): number => (offsetBase += 100_000);

  /** A library the projector has seen, on its real partition. */
  async function newLibrary(counters: { operations?: number; rejected?: number } = {}) {
    const id = randomUUID();
    const partition = partitionForLibrary(id, PARTITIONS);
    await insertLibrary(pool, id, partition, counters);
    return { id, partition };
  }

  describe('records', () => {
    it('lists visible records by id with every declared field, null where unset', async () => {
      const { id: lib } = await newLibrary();
      const tagA = await insertRecord(pool, lib, {
        model: 'Tag',
        data: { name: 'a', is_hidden: false },
      });
      const tagB = await insertRecord(pool, lib, { model: 'Tag', data: { color: '#fff' } });
      await insertRecord(pool, lib, { model: 'Tag', data: { name: 'gone' }, deleted: true });
      const object = await insertRecord(pool, lib, {
        model: 'Object',
        data: { kind: 3, note: null },
      });
      // Another library's records never leak in.
      const { id: other } = await newLibrary();
      await insertRecord(pool, other, { model: 'Tag', data: { name: 'other' } });

      const all = await http.get(`/libraries/${lib}/records`).expect(200);
      expect(all.body.nextCursor).toBeNull();
      expect(all.body.items.map((r: { id: string }) => r.id)).toEqual(
        sortedIds([tagA, tagB, object]),
      );
      const tags = await http.get(`/libraries/${lib}/records?model=Tag`).expect(200);
      expect(tags.body).toEqual({
        items: sortedIds([tagA, tagB]).map((id) => ({
          id,
          model: 'Tag',
          data:
            id === tagA
              ? {
                  name: 'a',
                  color: null,
                  is_hidden: false,
                  date_created: null,
                  date_modified: null,
                }
              : {
                  name: null,
                  color: '#fff',
                  is_hidden: null,
                  date_created: null,
                  date_modified: null,
                },
        })),
        nextCursor: null,
      });
      const objects = await http.get(`/libraries/${lib}/records?model=Object`).expect(200);
      expect(objects.body.items).toEqual([
        {
          id: object,
          model: 'Object',
          data: {
            kind: 3,
            favorite: null,
            important: null,
            hidden: null,
            note: null,
            date_created: null,
            date_accessed: null,
          },
        },
      ]);
      expect(Object.keys(objects.body.items[0].data)).toEqual([
        'kind',
        'favorite',
        'important',
        'hidden',
        'note',
        'date_created',
        'date_accessed',
      ]);
    });

    it('serves one visible record, 404 NOT_FOUND for deleted or unknown ones', async () => {
      const { id: lib } = await newLibrary();
      const label = await insertRecord(pool, lib, {
        model: 'Label',
        data: { name: 'x', date_created: '2024-02-29T13:05:07.123+02:00' },
      });
      const deleted = await insertRecord(pool, lib, { model: 'Label', deleted: true });

      const found = await http.get(
        `/libraries/${lib.toUpperCase()}/records/${label.toUpperCase()}`,
      );
      expect(found.status).toBe(200);
      expect(found.body).toEqual({
        id: label,
        model: 'Label',
        data: { name: 'x', date_created: '2024-02-29T13:05:07.123+02:00', date_modified: null },
      });
      for (const missing of [deleted, randomUUID()]) {
        const res = await http.get(`/libraries/${lib}/records/${missing}`).expect(404);
        expect(res.body).toEqual({ error: 'NOT_FOUND', message: expect.any(String) });
      }
      // A record of another library is not found here either.
      const { id: other } = await newLibrary();
      await http.get(`/libraries/${other}/records/${label}`).expect(404);
    });
  });

  describe('relations', () => {
    it('shows a relation only when it exists and both ends are visible records of the declared models (L3)', async () => {
      const { id: lib } = await newLibrary();
      const object = await insertRecord(pool, lib, { model: 'Object', data: {} });
      const tag = await insertRecord(pool, lib, { model: 'Tag', data: { name: 't' } });
      const deletedTag = await insertRecord(pool, lib, { model: 'Tag', deleted: true });
      const album = await insertRecord(pool, lib, { model: 'Album', data: {} });
      const label = await insertRecord(pool, lib, { model: 'Label', data: {} });
      const missing = randomUUID();

      await insertRelation(pool, lib, {
        relation: 'TagOnObject',
        item: object,
        group: tag,
        data: { date_created: '2024-01-01' },
      });
      await insertRelation(pool, lib, { relation: 'ObjectInAlbum', item: object, group: album });
      await insertRelation(pool, lib, { relation: 'LabelOnObject', item: object, group: label });
      // Hidden: removed, group deleted, group missing, item of the wrong model, group of the wrong model.
      await insertRelation(pool, lib, {
        relation: 'LabelOnObject',
        item: object,
        group: tag,
        present: false,
      });
      await insertRelation(pool, lib, { relation: 'TagOnObject', item: object, group: deletedTag });
      await insertRelation(pool, lib, { relation: 'TagOnObject', item: object, group: missing });
      await insertRelation(pool, lib, { relation: 'TagOnObject', item: tag, group: tag });
      await insertRelation(pool, lib, { relation: 'ObjectInAlbum', item: object, group: label });

      const res = await http.get(`/libraries/${lib}/relations`).expect(200);
      expect(res.body).toEqual({
        items: [
          { relation: 'LabelOnObject', item: object, group: label, data: { date_created: null } },
          { relation: 'ObjectInAlbum', item: object, group: album, data: { date_created: null } },
          {
            relation: 'TagOnObject',
            item: object,
            group: tag,
            data: { date_created: '2024-01-01' },
          },
        ],
        nextCursor: null,
      });

      const byRelation = await http.get(`/libraries/${lib}/relations?relation=TagOnObject`);
      expect(byRelation.body.items).toEqual([expect.objectContaining({ group: tag })]);
      const byGroup = await http.get(`/libraries/${lib}/relations?group=${album.toUpperCase()}`);
      expect(byGroup.body.items).toEqual([expect.objectContaining({ relation: 'ObjectInAlbum' })]);
      const byItem = await http.get(
        `/libraries/${lib}/relations?item=${object}&relation=LabelOnObject`,
      );
      expect(byItem.body.items).toEqual([expect.objectContaining({ group: label })]);
      const none = await http.get(`/libraries/${lib}/relations?item=${tag}`).expect(200);
      expect(none.body).toEqual({ items: [], nextCursor: null });
    });

    it('pages through relations across relation names with a cursor', async () => {
      const { id: lib } = await newLibrary();
      const objects = await Promise.all(
        [0, 1, 2].map(() => insertRecord(pool, lib, { model: 'Object', data: {} })),
      );
      const tag = await insertRecord(pool, lib, { model: 'Tag', data: {} });
      const album = await insertRecord(pool, lib, { model: 'Album', data: {} });
      for (const object of objects) {
        await insertRelation(pool, lib, { relation: 'TagOnObject', item: object, group: tag });
        await insertRelation(pool, lib, { relation: 'ObjectInAlbum', item: object, group: album });
      }
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const query: string = cursor ? `&cursor=${cursor}` : '';
        const res = await http.get(`/libraries/${lib}/relations?limit=4${query}`).expect(200);
        seen.push(
          ...res.body.items.map(
            (r: { relation: string; item: string }) => `${r.relation}/${r.item}`,
          ),
        );
        cursor = res.body.nextCursor;
        pages++;
      } while (cursor !== null);
      expect(pages).toBe(2);
      expect(seen).toEqual([
        ...sortedIds(objects).map((o) => `ObjectInAlbum/${o}`),
        ...sortedIds(objects).map((o) => `TagOnObject/${o}`),
      ]);
    });
  });

  describe('operation feed and rejections', () => {
    it('serves the feed in log order, `after` exclusive, paged by cursor', async () => {
      const { id: lib } = await newLibrary({ operations: 5 });
      const recordId = randomUUID();
      const ops = [
        recordCreate(recordId, 'Tag', { name: 'a' }),
        recordUpdate(recordId, 'name', 'b'),
        recordUpdate(recordId, 'color', null),
        recordUpdate(recordId, 'is_hidden', true),
        recordUpdate(recordId, 'name', 'c'),
      ];
      const offsets = [3, 4, 7, 10, 11];
      for (let i = 0; i < ops.length; i++) await insertOperation(pool, lib, offsets[i], ops[i]);

      const all = await http.get(`/libraries/${lib}/operations`).expect(200);
      expect(all.body).toEqual({
        items: offsets.map((offset, i) => ({ offset: String(offset), operation: ops[i] })),
        nextCursor: null,
      });
      expect(typeof all.body.items[0].operation.timestamp.hybrid).toBe('string');

      const after = await http.get(`/libraries/${lib}/operations?after=4`).expect(200);
      expect(after.body.items.map((e: { offset: string }) => e.offset)).toEqual(['7', '10', '11']);
      const fromStart = await http.get(`/libraries/${lib}/operations?after=-1&limit=2`).expect(200);
      expect(fromStart.body.items.map((e: { offset: string }) => e.offset)).toEqual(['3', '4']);
      const next = await http
        .get(`/libraries/${lib}/operations?limit=2&cursor=${fromStart.body.nextCursor}`)
        .expect(200);
      expect(next.body.items.map((e: { offset: string }) => e.offset)).toEqual(['7', '10']);
      const last = await http
        .get(`/libraries/${lib}/operations?limit=2&cursor=${next.body.nextCursor}`)
        .expect(200);
      expect(last.body).toEqual({ items: [{ offset: '11', operation: ops[4] }], nextCursor: null });
      const beyond = await http.get(`/libraries/${lib}/operations?after=11`).expect(200);
      expect(beyond.body).toEqual({ items: [], nextCursor: null });
    });

    it('lists rejected ops with exactly offset, operation and reason', async () => {
      const { id: lib } = await newLibrary({ rejected: 2 });
      const first = recordUpdate(randomUUID(), 'nope', 1);
      const second = recordCreate(randomUUID(), 'Tag', { name: 'x' }, randomUUID());
      await insertRejected(pool, lib, 9, first, 'UNKNOWN_FIELD');
      await insertRejected(pool, lib, 2, second, 'DUPLICATE_CONFLICT');
      const res = await http.get(`/libraries/${lib}/rejected`).expect(200);
      expect(res.body).toEqual({
        items: [
          { offset: '2', operation: second, reason: 'DUPLICATE_CONFLICT' },
          { offset: '9', operation: first, reason: 'UNKNOWN_FIELD' },
        ],
        nextCursor: null,
      });
      for (const item of res.body.items)
        expect(Object.keys(item).sort()).toEqual(['offset', 'operation', 'reason']);
      const paged = await http.get(`/libraries/${lib}/rejected?limit=1`).expect(200);
      expect(paged.body.items).toHaveLength(1);
      const rest = await http
        .get(`/libraries/${lib}/rejected?limit=1&cursor=${paged.body.nextCursor}`)
        .expect(200);
      expect(rest.body).toEqual({ items: [res.body.items[1]], nextCursor: null });
    });
  });

  describe('status and library list', () => {
    it('reports partition, applied offset and counts of a seen library', async () => {
      const { id: lib, partition } = await newLibrary({ operations: 4, rejected: 1 });
      const object = await insertRecord(pool, lib, { model: 'Object', data: {} });
      const tag = await insertRecord(pool, lib, { model: 'Tag', data: {} });
      await insertRecord(pool, lib, { model: 'Tag', deleted: true });
      await insertRelation(pool, lib, { relation: 'TagOnObject', item: object, group: tag });
      await insertRelation(pool, lib, {
        relation: 'TagOnObject',
        item: object,
        group: randomUUID(),
      });
      const waiting = randomUUID();
      await insertPending(pool, lib, 5, waiting, recordUpdate(waiting, 'name', 'x'));
      await insertPending(pool, lib, 6, waiting, recordUpdate(waiting, 'color', 'y'));
      await insertRejected(pool, lib, 7, recordUpdate(object, 'name', 'x'), 'UNKNOWN_FIELD');
      const base = freshBase();
      await setApplied(pool, topic, partition, base + 42);

      const res = await http.get(`/libraries/${lib}/status`).expect(200);
      expect(res.body).toEqual({
        partition,
        appliedOffset: String(base + 41),
        records: 2,
        relations: 1,
        pending: 2,
        rejected: 1,
      });
    });

    it('answers for a library never seen: computed partition, zero counts', async () => {
      const lib = randomUUID();
      const partition = partitionForLibrary(lib, PARTITIONS);
      const before = await http.get(`/libraries/${lib}/status`).expect(200);
      expect(before.body).toMatchObject({
        partition,
        records: 0,
        relations: 0,
        pending: 0,
        rejected: 0,
      });
      const base = freshBase();
      await setApplied(pool, topic, partition, base + 1000);
      const after = await http.get(`/libraries/${lib}/status`).expect(200);
      expect(after.body).toEqual({
        partition,
        appliedOffset: String(base + 999),
        records: 0,
        relations: 0,
        pending: 0,
        rejected: 0,
      });
      // Other topics' offsets never count.
      const elsewhere = randomUUID();
      const otherPartition = partitionForLibrary(elsewhere, PARTITIONS);
      await pool.query(`DELETE FROM partition_offsets WHERE topic = $1 AND partition = $2`, [
        topic,
        otherPartition,
      ]);
      await setApplied(pool, `${topic}.other`, otherPartition, 5);
      const fresh = await http.get(`/libraries/${elsewhere}/status`).expect(200);
      expect(fresh.body.appliedOffset).toBeNull();
    });

    it('lists libraries by id with counts, paged', async () => {
      const created = [await newLibrary({ operations: 3 }), await newLibrary(), await newLibrary()];
      await insertRecord(pool, created[0].id, { model: 'Tag', data: {} });
      const seen = new Map<string, Record<string, unknown>>();
      let cursor: string | null = null;
      let previous = '';
      do {
        const suffix: string = cursor ? `&cursor=${cursor}` : '';
        const res = await http.get(`/libraries?limit=2${suffix}`).expect(200);
        for (const item of res.body.items) {
          expect(item.id > previous).toBe(true);
          previous = item.id;
          seen.set(item.id, item);
        }
        cursor = res.body.nextCursor;
      } while (cursor !== null);
      expect(seen.get(created[0].id)).toEqual({
        id: created[0].id,
        partition: created[0].partition,
        operations: 3,
        records: 1,
        relations: 0,
        pending: 0,
        rejected: 0,
      });
      for (const { id } of created) expect(seen.has(id)).toBe(true);
      const total = await pool.query(`SELECT count(*)::int AS n FROM libraries`);
      expect(seen.size).toBe(total.rows[0].n);
    });
  });

  describe('pagination', () => {
    it('gives every one of 2,500 records once, in id order, at any page size', async () => {
      const { id: lib } = await newLibrary();
      const ids = Array.from({ length: 2500 }, () => randomUUID());
      await insertRecords(pool, lib, 'Tag', ids);
      const expected = sortedIds(ids);
      for (const limit of [1000, 100, 333]) {
        const walked: string[] = [];
        let cursor: string | null = null;
        let pages = 0;
        do {
          const suffix: string = cursor ? `&cursor=${cursor}` : '';
          const res = await http
            .get(`/libraries/${lib}/records?model=Tag&limit=${limit}${suffix}`)
            .expect(200);
          expect(res.body.items.length).toBeLessThanOrEqual(limit);
          walked.push(...res.body.items.map((r: { id: string }) => r.id));
          cursor = res.body.nextCursor;
          pages++;
        } while (cursor !== null);
        expect(pages).toBe(Math.ceil(2500 / limit));
        expect(walked).toEqual(expected);
      }
      // Default page size is 100.
      const first = await http.get(`/libraries/${lib}/records`).expect(200);
      expect(first.body.items).toHaveLength(100);
    });

    it('never repeats or skips a record that exists through the whole walk while others are written', async () => {
      const { id: lib } = await newLibrary();
      const stable = Array.from({ length: 600 }, () => randomUUID());
      const doomed = Array.from({ length: 300 }, () => randomUUID());
      await insertRecords(pool, lib, 'Object', [...stable, ...doomed]);

      let writing = true;
      const writer = (async () => {
        let i = 0;
        while (writing) {
          // New records land anywhere in id order; doomed ones disappear.
          await insertRecords(pool, lib, 'Object', [randomUUID(), randomUUID()]);
          if (i < doomed.length) {
            await pool.query(
              `UPDATE records SET deleted = true WHERE library_id = $1 AND record_id = $2`,
              [lib, doomed[i++]],
            );
          }
        }
      })();
      const walked: string[] = [];
      let cursor: string | null = null;
      try {
        do {
          const suffix: string = cursor ? `&cursor=${cursor}` : '';
          const res = await http.get(`/libraries/${lib}/records?limit=25${suffix}`).expect(200);
          walked.push(...res.body.items.map((r: { id: string }) => r.id));
          cursor = res.body.nextCursor;
        } while (cursor !== null);
      } finally {
        writing = false;
        await writer;
      }
      expect(new Set(walked).size).toBe(walked.length);
      expect(walked).toEqual(sortedIds(walked));
      const walkedSet = new Set(walked);
      expect(stable.filter((id) => !walkedSet.has(id))).toEqual([]);
      const written = await pool.query(
        `SELECT count(*)::int AS n FROM records WHERE library_id = $1`,
        [lib],
      );
      expect(written.rows[0].n).toBeGreaterThan(900); // the writer really ran during the walk
    });
  });

  describe('read-your-writes (minOffset)', () => {
    it('answers at once when the partition is already applied through minOffset', async () => {
      const { id: lib, partition } = await newLibrary();
      const base = freshBase();
      await setApplied(pool, topic, partition, base + 501);
      const started = Date.now();
      await http.get(`/libraries/${lib}/records?minOffset=${base + 500}&waitMs=2000`).expect(200);
      expect(Date.now() - started).toBeLessThan(1000);
    });

    it('waits for the projector commit notification, then shows the write', async () => {
      const { id: lib, partition } = await newLibrary();
      const base = freshBase();
      await setApplied(pool, topic, partition, base);
      const recordId = randomUUID();
      const started = Date.now();
      const pending = http
        .get(`/libraries/${lib}/records/${recordId}?minOffset=${base}&waitMs=10000`)
        .then((r) => r);
      await new Promise((resolve) => setTimeout(resolve, 400));
      // One transaction, like a projector batch: state, offset, notify (delivered on commit).
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await insertRecord(client, lib, { id: recordId, model: 'Tag', data: { name: 'mine' } });
        await setApplied(client, topic, partition, base + 1);
        await client.query('COMMIT');
      } finally {
        client.release();
      }
      const res = await pending;
      const elapsed = Date.now() - started;
      expect(res.status).toBe(200);
      expect(res.body.data.name).toBe('mine');
      expect(elapsed).toBeGreaterThanOrEqual(350);
      expect(elapsed).toBeLessThan(5000);
    });

    it('finds an applied offset whose notification was lost (safety re-read)', async () => {
      const { id: lib, partition } = await newLibrary();
      const base = freshBase();
      await setApplied(pool, topic, partition, base);
      const pending = http
        .get(`/libraries/${lib}/status?minOffset=${base}&waitMs=10000`)
        .then((r) => r);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const started = Date.now();
      await setApplied(pool, topic, partition, base + 1, false);
      const res = await pending;
      expect(res.status).toBe(200);
      expect(res.body.appliedOffset).toBe(String(base));
      expect(Date.now() - started).toBeLessThan(3000);
    });

    it('answers 503 NOT_YET_APPLIED once waitMs passes without the offset applied', async () => {
      const { id: lib, partition } = await newLibrary();
      const base = freshBase();
      await setApplied(pool, topic, partition, base + 10);
      const started = Date.now();
      const res = await http.get(`/libraries/${lib}/operations?minOffset=${base + 10}&waitMs=700`);
      const elapsed = Date.now() - started;
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBe('1');
      expect(res.body).toEqual({
        error: 'NOT_YET_APPLIED',
        message: expect.any(String),
        details: [
          { partition, appliedOffset: String(base + 9), minOffset: String(base + 10), waitMs: 700 },
        ],
      });
      expect(elapsed).toBeGreaterThanOrEqual(650);
      expect(elapsed).toBeLessThan(3000);
      const now = await http.get(`/libraries/${lib}/relations?minOffset=${base + 10}&waitMs=0`);
      expect(now.status).toBe(503);
    });

    it('waits on the computed partition of a library the projector has not seen', async () => {
      const lib = randomUUID();
      const partition = partitionForLibrary(lib, PARTITIONS);
      const base = freshBase();
      await setApplied(pool, topic, partition, base);
      const pending = http
        .get(`/libraries/${lib}/records/${randomUUID()}?minOffset=${base}&waitMs=10000`)
        .then((r) => r);
      await new Promise((resolve) => setTimeout(resolve, 300));
      await setApplied(pool, topic, partition, base + 1);
      const res = await pending;
      expect(res.status).toBe(404); // applied, and the record simply does not exist
    });

    it('applies to every route under /libraries/{libraryId}', async () => {
      const { id: lib, partition } = await newLibrary();
      const base = freshBase();
      await setApplied(pool, topic, partition, base + 50);
      for (const path of [
        'records',
        `records/${randomUUID()}`,
        'relations',
        'operations',
        'rejected',
        'status',
      ]) {
        const res = await http.get(`/libraries/${lib}/${path}?minOffset=${base + 50}&waitMs=0`);
        expect({ path, status: res.status, error: res.body.error }).toEqual({
          path,
          status: 503,
          error: 'NOT_YET_APPLIED',
        });
      }
    });
  });

  describe('parameter validation', () => {
    const lib = '6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b';
    const routes = [
      'records',
      `records/${randomUUID()}`,
      'relations',
      'operations',
      'rejected',
      'status',
    ];

    it('answers 400 INVALID_LIBRARY_ID for a bad library id on every route', async () => {
      for (const path of routes) {
        for (const bad of [
          'not-a-uuid',
          '6f1c2b3a4d5e4f608a7b9c0d1e2f3a4b',
          '6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4g',
        ]) {
          const res = await http.get(`/libraries/${bad}/${path}`);
          expect({ path, status: res.status, body: res.body }).toEqual({
            path,
            status: 400,
            body: { error: 'INVALID_LIBRARY_ID', message: expect.any(String) },
          });
        }
      }
    });

    const cases: [string, string][] = [
      ['records/not-a-uuid', 'recordId'],
      ['records?limit=0', 'limit'],
      ['records?limit=1001', 'limit'],
      ['records?limit=abc', 'limit'],
      ['records?limit=1.5', 'limit'],
      ['records?limit=', 'limit'],
      ['records?limit=1&limit=2', 'limit'],
      ['records?cursor=garbage!', 'cursor'],
      ['records?cursor=eyJ4IjoxfQ', 'cursor'],
      ['records?model=Nope', 'model'],
      ['records?model=tag', 'model'],
      ['relations?relation=Nope', 'relation'],
      ['relations?item=zzz', 'item'],
      ['relations?group=123', 'group'],
      ['relations?cursor=WyJyZWwiLCJUYWdPbk9iamVjdCIsIngiLCJ5Il0', 'cursor'],
      ['operations?after=abc', 'after'],
      ['operations?after=-2', 'after'],
      ['operations?after=01', 'after'],
      ['operations?after=9223372036854775808', 'after'],
      ['rejected?limit=-5', 'limit'],
      ['status?minOffset=-1', 'minOffset'],
      ['status?minOffset=abc', 'minOffset'],
      ['records?minOffset=99999999999999999999', 'minOffset'],
      ['records?waitMs=30001', 'waitMs'],
      ['records?waitMs=-1', 'waitMs'],
      ['records?waitMs=soon', 'waitMs'],
    ];
    it.each(cases)('GET /libraries/{id}/%s -> 400 INVALID_PARAMETER on %s', async (path, param) => {
      const res = await http.get(`/libraries/${lib}/${path}`);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        error: 'INVALID_PARAMETER',
        message: expect.any(String),
        details: [{ path: param, message: expect.any(String) }],
      });
    });

    it('rejects a cursor of another list, and reports every bad parameter at once', async () => {
      const { id } = await newLibrary();
      await insertRecords(pool, id, 'Tag', [randomUUID(), randomUUID()]);
      const page = await http.get(`/libraries/${id}/records?limit=1`).expect(200);
      const wrong = await http.get(`/libraries/${id}/relations?cursor=${page.body.nextCursor}`);
      expect(wrong.status).toBe(400);
      expect(wrong.body.details).toEqual([{ path: 'cursor', message: expect.any(String) }]);
      const many = await http.get(`/libraries/${id}/records?limit=0&model=X&waitMs=x`);
      expect(many.status).toBe(400);
      expect(many.body.details.map((d: { path: string }) => d.path).sort()).toEqual([
        'limit',
        'model',
        'waitMs',
      ]);
    });

    it('validates the library list and ignores unknown query parameters', async () => {
      const bad = await http.get('/libraries?limit=5000');
      expect(bad.status).toBe(400);
      expect(bad.body).toMatchObject({ error: 'INVALID_PARAMETER', details: [{ path: 'limit' }] });
      const badCursor = await http.get('/libraries?cursor=abc');
      expect(badCursor.body).toMatchObject({
        error: 'INVALID_PARAMETER',
        details: [{ path: 'cursor' }],
      });
      await http.get(`/libraries?foo=bar`).expect(200);
      await http.get(`/libraries/${lib}/records?foo=bar&sort=desc`).expect(200);
    });

    it('answers unknown routes with 404 NOT_FOUND in the contract body', async () => {
      const res = await http.get(`/libraries/${lib}/nothing`).expect(404);
      expect(res.body).toEqual({ error: 'NOT_FOUND', message: expect.any(String) });
    });

    it('answers a path parameter that is not percent-encoded UTF-8 as Express did, 400 naming it', async () => {
      for (const path of ['/libraries/%ff/records', `/libraries/${lib}/records/a%ffb`]) {
        const res = await http.get(path).expect(400);
        const segment = path.split('/').find((part) => part.includes('%ff'));
        expect(res.body).toEqual({
          error: 'INVALID_PARAMETER',
          message: `Failed to decode param '${segment}'`,
        });
      }
      // A path no route has stays 404, whatever its encoding.
      await http.get('/libraries/%ff/nothing').expect(404);
      await http.get('/nothing%ff').expect(404);
    });
  });

  describe('health, metrics, OpenAPI', () => {
    it('is live and ready while the database answers', async () => {
      await http.get('/health/live').expect(200, { status: 'ok' });
      const ready = await http.get('/health/ready').expect(200);
      expect(ready.body).toEqual({ status: 'ok', checks: { postgres: 'up' } });
    });

    it('exports request latency per route and the read-your-writes metrics', async () => {
      await http.get(`/libraries/${randomUUID()}/records`).expect(200);
      const res = await http.get('/metrics').expect(200);
      expect(res.text).toMatch(
        /http_request_duration_seconds_count\{service="query",method="GET",route="\/libraries\/:libraryId\/records",status="200"\} [1-9]\d*/,
      );
      expect(res.text).toContain('query_min_offset_wait_seconds_bucket');
      expect(res.text).toMatch(/query_applied_listener_connected\{service="query"\} 1/);
    });

    it('documents every route with its response schema', async () => {
      const res = await http.get('/docs-json').expect(200);
      const paths = res.body.paths;
      const expected: [string, string][] = [
        ['/libraries', 'LibraryPageDto'],
        ['/libraries/{libraryId}/records', 'RecordPageDto'],
        ['/libraries/{libraryId}/records/{recordId}', 'RecordDto'],
        ['/libraries/{libraryId}/relations', 'RelationPageDto'],
        ['/libraries/{libraryId}/operations', 'FeedPageDto'],
        ['/libraries/{libraryId}/rejected', 'RejectedPageDto'],
        ['/libraries/{libraryId}/status', 'LibraryStatusDto'],
      ];
      for (const [path, schema] of expected) {
        expect(paths[path]?.get?.responses?.['200']?.content?.['application/json']?.schema).toEqual(
          {
            $ref: `#/components/schemas/${schema}`,
          },
        );
      }
      const params = paths['/libraries/{libraryId}/records'].get.parameters.map(
        (p: { name: string }) => p.name,
      );
      expect(params).toEqual(
        expect.arrayContaining(['libraryId', 'minOffset', 'waitMs', 'limit', 'cursor', 'model']),
      );
      await http.get('/docs').expect(200);
    });
  });
});

describe('query service partition count from Kafka metadata', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let topics: TestTopics | undefined;
  let app: INestApplication;

  afterAll(async () => {
    await app?.close();
    await Promise.all([database?.drop(), deleteTestTopics(topics)]);
  });

  it('places a library never seen with the topic partition count read from Kafka', async () => {
    database = await createTestDatabase('query_kafka');
    topics = await createTestTopics('query-partitions', 5);
    app = await createQueryApp(
      readQueryConfig({
        DATABASE_URL: database.url,
        SYNC_TOPIC: topics.operationsTopic,
        KAFKA_BROKERS: kafkaBrokers().join(','),
      }),
    );
    const http = request(app.getHttpServer());
    for (let i = 0; i < 5; i++) {
      const lib = randomUUID();
      const res = await http.get(`/libraries/${lib}/status`).expect(200);
      expect(res.body.partition).toBe(partitionForLibrary(lib, 5));
    }
  });

  it('answers 503 BROKER_UNAVAILABLE for an unseen library when the topic is missing', async () => {
    const missing = await createQueryApp(
      readQueryConfig({
        DATABASE_URL: database.url,
        SYNC_TOPIC: `query-missing.${randomUUID()}`,
        KAFKA_BROKERS: kafkaBrokers().join(','),
      }),
    );
    try {
      const res = await request(missing.getHttpServer()).get(`/libraries/${randomUUID()}/status`);
      expect(res.status).toBe(503);
      expect(res.body.error).toBe('BROKER_UNAVAILABLE');
      // Everything that does not need the partition count still works.
      await request(missing.getHttpServer()).get(`/libraries/${randomUUID()}/records`).expect(200);
    } finally {
      await missing.close();
    }
  });
});

describe('query service without its database', () => {
  it('starts, is live, and answers not ready (503 NOT_READY) while Postgres is unreachable', async () => {
    const app = await createQueryApp(
      readQueryConfig({
        // Nothing listens on port 1.
        DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nowhere',
        SYNC_TOPIC_PARTITIONS: '3',
      }),
    );
    try {
      const http = request(app.getHttpServer());
      await http.get('/health/live').expect(200);
      const ready = await http.get('/health/ready');
      expect(ready.status).toBe(503);
      expect(ready.body).toMatchObject({
        error: 'NOT_READY',
        details: [{ dependency: 'postgres' }],
      });
      const metrics = await http.get('/metrics').expect(200);
      expect(metrics.text).toMatch(/query_applied_listener_connected\{service="query"\} 0/);
    } finally {
      await app.close();
    }
  });
});
