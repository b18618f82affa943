import { randomUUID } from 'node:crypto';
import { partitionForLibrary } from '@sync/kafka';
import request from 'supertest';
import { sortedIds } from './query-fixtures';
import { op } from './snapshot-fixtures';
import { type TestStack, startTestStack } from './support/test-stack';

/**
 * The whole path: POST through ingest (real Kafka), applied by the projector (real Postgres),
 * read back through query with minOffset = the 202's lastOffset. No polling anywhere: the
 * read-your-writes wait is what makes each first read correct.
 */
describe('query service end to end: ingest -> Kafka -> projector -> query', () => {
  const PARTITIONS = 3;
  let stack: TestStack;
  let post: (libraryId: string, ops: unknown[]) => request.Test;
  let get: (path: string) => request.Test;

  beforeAll(async () => {
    // No SYNC_TOPIC_PARTITIONS: the partition count of unseen libraries comes from Kafka.
    stack = await startTestStack('query-pipe', { partitions: PARTITIONS });
    const ingestHttp = request(stack.ingest.getHttpServer());
    const queryHttp = request(stack.query.getHttpServer());
    post = (libraryId, ops) =>
      ingestHttp
        .post(`/libraries/${libraryId}/operations`)
        .send(ops)
        .set('content-type', 'application/json');
    get = (path) => queryHttp.get(path);
  }, 120_000);

  afterAll(async () => {
    await stack?.close();
  });

  const { create, update, remove, link: relate } = op;

  async function accepted(libraryId: string, ops: unknown[]) {
    const res = await post(libraryId, ops);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ accepted: ops.length });
    return res.body as { partition: number; firstOffset: string; lastOffset: string };
  }

  it('reads its own writes on every endpoint, first try', async () => {
    const lib = randomUUID();
    const nodeA = randomUUID();
    const nodeB = randomUUID();
    const object = randomUUID();
    const tag = randomUUID();
    const tag2 = randomUUID();
    const location = randomUUID();
    const ghost = randomUUID();
    const ops = [
      create(nodeA, object, 'Object', { kind: 1, favorite: true }),
      create(nodeA, tag, 'Tag', { name: 'holiday' }),
      create(nodeB, tag2, 'Tag', { name: 'work', color: '#00f' }),
      update(nodeB, tag, 'color', 'red'),
      relate(nodeA, 'TagOnObject', object, tag, { date_created: '2024-05-01T10:00:00Z' }),
      relate(nodeA, 'TagOnObject', object, tag2),
      create(nodeA, location, 'Location', { name: 'disk', path: '/mnt' }),
      update(nodeB, location, 'name', 'stolen'), // owned by A: NOT_OWNER
      update(nodeA, ghost, 'name', 'later'), // no CREATE yet: pending (R3)
    ];
    const batch = await accepted(lib, ops);
    expect(batch.partition).toBe(partitionForLibrary(lib, PARTITIONS));
    const wait = `minOffset=${batch.lastOffset}&waitMs=20000`;

    const status = await get(`/libraries/${lib}/status?${wait}`);
    expect(status.status).toBe(200);
    expect(status.body).toEqual({
      partition: batch.partition,
      appliedOffset: expect.any(String),
      records: 4,
      relations: 2,
      pending: 1,
      rejected: 1,
    });
    expect(BigInt(status.body.appliedOffset)).toBeGreaterThanOrEqual(BigInt(batch.lastOffset));

    const record = await get(`/libraries/${lib}/records/${tag}?${wait}`).expect(200);
    expect(record.body).toEqual({
      id: tag,
      model: 'Tag',
      data: {
        name: 'holiday',
        color: 'red',
        is_hidden: null,
        date_created: null,
        date_modified: null,
      },
    });
    const tags = await get(`/libraries/${lib}/records?model=Tag&${wait}`).expect(200);
    expect(tags.body.items.map((r: { id: string }) => r.id)).toEqual(sortedIds([tag, tag2]));
    const all = await get(`/libraries/${lib}/records?${wait}`).expect(200);
    expect(all.body.items.map((r: { id: string }) => r.id)).toEqual(
      sortedIds([object, tag, tag2, location]),
    );
    expect(all.body.items.find((r: { id: string }) => r.id === location).data.name).toBe('disk');

    const relations = await get(`/libraries/${lib}/relations?item=${object}&${wait}`).expect(200);
    expect(relations.body).toEqual({
      items: sortedIds([tag, tag2]).map((group) => ({
        relation: 'TagOnObject',
        item: object,
        group,
        data: { date_created: group === tag ? '2024-05-01T10:00:00Z' : null },
      })),
      nextCursor: null,
    });

    const rejected = await get(`/libraries/${lib}/rejected?${wait}`).expect(200);
    expect(rejected.body.items).toEqual([
      { offset: expect.any(String), operation: ops[7], reason: 'NOT_OWNER' },
    ]);

    const feed = await get(`/libraries/${lib}/operations?${wait}`).expect(200);
    const fed = feed.body.items as { offset: string; operation: unknown }[];
    // Accepted ops in log order; the rejected one is not in the feed.
    expect(fed.map((e) => e.operation)).toEqual(ops.filter((_, i) => i !== 7));
    const offsets = fed.map((e) => BigInt(e.offset));
    expect(offsets[0]).toBe(BigInt(batch.firstOffset));
    expect(offsets[offsets.length - 1]).toBe(BigInt(batch.lastOffset));
    expect([...offsets].sort((a, b) => (a < b ? -1 : 1))).toEqual(offsets);
    // A node that has everything up to the 3rd op pulls the rest.
    const rest = await get(`/libraries/${lib}/operations?after=${fed[2].offset}`).expect(200);
    expect(rest.body.items).toEqual(fed.slice(3));

    const libraries = await get(`/libraries?limit=1000`).expect(200);
    expect(libraries.body.items).toContainEqual({
      id: lib,
      partition: batch.partition,
      operations: fed.length,
      records: 4,
      relations: 2,
      pending: 1,
      rejected: 1,
    });
  });

  it('applies later batches: deletes hide records and their relations, pending ops resolve', async () => {
    const lib = randomUUID();
    const node = randomUUID();
    const object = randomUUID();
    const album = randomUUID();
    const late = randomUUID();
    await accepted(lib, [
      create(node, object, 'Object', {}),
      create(node, album, 'Album', { name: 'trip' }),
      relate(node, 'ObjectInAlbum', object, album),
      update(node, late, 'note', 'arrived before its create'),
    ]);
    const second = await accepted(lib, [
      remove(node, album),
      create(node, late, 'Object', { kind: 7 }),
    ]);
    const wait = `minOffset=${second.lastOffset}`;

    await get(`/libraries/${lib}/records/${album}?${wait}`).expect(404);
    const relations = await get(`/libraries/${lib}/relations?${wait}`).expect(200);
    expect(relations.body).toEqual({ items: [], nextCursor: null });
    const resolved = await get(`/libraries/${lib}/records/${late}?${wait}`).expect(200);
    expect(resolved.body.data).toMatchObject({ kind: 7, note: 'arrived before its create' });
    const status = await get(`/libraries/${lib}/status?${wait}`).expect(200);
    expect(status.body).toMatchObject({ records: 2, relations: 0, pending: 0, rejected: 0 });
  });

  it('pages through 2,500 records written through ingest: every id once, in order', async () => {
    const lib = randomUUID();
    const node = randomUUID();
    const ids = Array.from({ length: 2500 }, () => randomUUID());
    const batch = await accepted(
      lib,
      ids.map((id, i) => create(node, id, 'Label', { name: `label ${i}` })),
    );
    const walked: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const suffix: string = cursor ? `&cursor=${cursor}` : '';
      const res = await get(
        `/libraries/${lib}/records?model=Label&limit=1000&minOffset=${batch.lastOffset}&waitMs=30000${suffix}`,
      );
      expect(res.status).toBe(200);
      walked.push(...res.body.items.map((r: { id: string }) => r.id));
      cursor = res.body.nextCursor;
      pages++;
    } while (cursor !== null);
    expect(pages).toBe(3);
    expect(walked).toEqual(sortedIds(ids));
  });

  it('waits for a minOffset beyond the log, then answers 503 NOT_YET_APPLIED', async () => {
    const lib = randomUUID();
    const batch = await accepted(lib, [create(randomUUID(), randomUUID(), 'Tag', {})]);
    const beyond = BigInt(batch.lastOffset) + 1000n;
    const started = Date.now();
    const res = await get(`/libraries/${lib}/records?minOffset=${beyond}&waitMs=1500`);
    const elapsed = Date.now() - started;
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({
      error: 'NOT_YET_APPLIED',
      details: [{ partition: batch.partition, minOffset: beyond.toString(), waitMs: 1500 }],
    });
    expect(BigInt(res.body.details[0].appliedOffset)).toBeGreaterThanOrEqual(
      BigInt(batch.lastOffset),
    );
    expect(elapsed).toBeGreaterThanOrEqual(1400);
    expect(elapsed).toBeLessThan(6000);
  });

  it('answers the contract errors on the live stack', async () => {
    const lib = randomUUID();
    await get(`/libraries/nope/status`).expect(400, /INVALID_LIBRARY_ID/);
    const bad = await get(`/libraries/${lib}/records?limit=0&model=Nope`);
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('INVALID_PARAMETER');
    expect(bad.body.details.map((d: { path: string }) => d.path)).toEqual(['model', 'limit']);
    await get(`/libraries/${lib}/records/${randomUUID()}`).expect(404, /NOT_FOUND/);
    // A library nobody wrote to: placed by the topic's real partition count, read from Kafka.
    const status = await get(`/libraries/${lib}/status`).expect(200);
    expect(status.body).toMatchObject({
      partition: partitionForLibrary(lib, PARTITIONS),
      records: 0,
      relations: 0,
      pending: 0,
      rejected: 0,
    });
  });
});
