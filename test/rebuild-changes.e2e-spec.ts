import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { kafkaClientConfig } from '@sync/kafka';
import { readProjectorConfig } from '../apps/projector/src/projector.config';
import {
  DEFAULT_REBUILD_OPTIONS,
  ProjectionRebuild,
  type RebuildResult,
  rebuildSettings,
} from '../apps/projector/src/rebuild/projection-rebuild.service';
import { type SseEvent, SseReader } from './support/sse-reader';
import { eventually } from './support/test-env';
import { type Pipeline, op, startPipeline } from './snapshot-fixtures';

/** The key of a change event: record id, or relation/item/group. */
const keyOf = (e: SseEvent): string =>
  e.event === 'record'
    ? `record ${String(e.data.id)}`
    : `relation ${String(e.data.relation)}/${String(e.data.item)}/${String(e.data.group)}`;

describe('a rebuild sends the rows it corrects to /changes followers (real Kafka and Postgres)', () => {
  let p: Pipeline;
  let sql: Client;
  const readers: SseReader[] = [];
  const open = async (path: string, headers?: Record<string, string>) => {
    const reader = await SseReader.open(`${p.queryUrl}${path}`, headers);
    readers.push(reader);
    return reader;
  };
  const count = (reader: SseReader, n: number) =>
    eventually(() => Promise.resolve(reader.events.length >= n ? true : undefined), 20_000);

  const rebuild = (): Promise<RebuildResult> => {
    const config = readProjectorConfig({ ...p.env, PROJECTOR_GROUP: p.topics.consumerGroup });
    return new ProjectionRebuild(
      rebuildSettings(config),
      { ...kafkaClientConfig(config.kafka), clientId: 'rebuild-changes-test' },
      { ...DEFAULT_REBUILD_OPTIONS, dropOld: true },
      { log: () => undefined, interrupted: () => false },
    ).run();
  };

  beforeAll(async () => {
    p = await startPipeline('rebuild-changes');
    sql = new Client({ connectionString: p.env.DATABASE_URL });
    await sql.connect();
  }, 120_000);

  afterAll(async () => {
    await Promise.all(readers.map((r) => r.close()));
    await sql?.end();
    await p?.close();
  });

  it('a connected follower and one resuming from an old cursor get exactly the corrected rows', async () => {
    const lib = randomUUID();
    const A = randomUUID();
    const [changed, vanished, kept, phantom, t1, t2] = Array.from({ length: 6 }, () =>
      randomUUID(),
    );
    const posted = await p.post(lib, [
      op.create(A, changed, 'Object', { note: 'one' }),
      op.create(A, vanished, 'Object', { note: 'two' }),
      op.create(A, kept, 'Object', { note: 'three' }),
      op.create(A, t1, 'Tag', { name: 'pets' }),
      op.create(A, t2, 'Tag', { name: 'work' }),
      op.link(A, 'TagOnObject', kept, t1),
      op.link(A, 'TagOnObject', vanished, t1),
    ]);
    // Another library, untouched by the corruption: the rebuild must not speak of it.
    const calm = randomUUID();
    const calmPosted = await p.post(calm, [op.create(A, randomUUID(), 'Tag', { name: 'calm' })]);
    const applied = async (library: string, offset: string) =>
      (await open(`/libraries/${library}/changes?minOffset=${offset}&waitMs=20000`)).close();
    await applied(lib, posted.lastOffset);
    await applied(calm, calmPosted.lastOffset);

    // The live tables go wrong behind the projector's back: a changed row, a lost row, and a
    // record and a relation the log never had.
    await sql.query(
      `UPDATE records SET data = data || '{"note": "corrupt"}' WHERE library_id = $1 AND record_id = $2`,
      [lib, changed],
    );
    await sql.query(`DELETE FROM records WHERE library_id = $1 AND record_id = $2`, [
      lib,
      vanished,
    ]);
    await sql.query(
      `INSERT INTO records (library_id, record_id, model, data, updated_offset)
       VALUES ($1, $2, 'Object', '{"note": "ghost"}', 0)`,
      [lib, phantom],
    );
    await sql.query(
      `INSERT INTO relations (library_id, relation, item_id, group_id, present, presence_clock, updated_offset)
       VALUES ($1, 'TagOnObject', $2, $3, true, '{}', 0)`,
      [lib, kept, t2],
    );

    // Followers read the corrupt state, up to the live position.
    const connected = await open(`/libraries/${lib}/changes`);
    const calmFollower = await open(`/libraries/${calm}/changes`);
    // changed, kept, phantom, t1, t2; kept/t1, kept/t2, and vanished/t1 (not visible: its item
    // is gone).
    await count(connected, 8);
    await count(calmFollower, 1);
    const before = connected.events.length;
    const cursor = connected.lastEventId!;
    expect(cursor).toBe(posted.lastOffset);
    expect(connected.events.map(keyOf)).not.toContain(`record ${vanished}`);
    const hidden = connected.events.find(
      (e) => keyOf(e) === `relation TagOnObject/${vanished}/${t1}`,
    );
    expect(hidden?.data).toMatchObject({ visible: false });

    const result = await rebuild();
    expect(result.switched).toBe(true);
    // The link of the restored record is filed with it: it is visible again (rule L3).
    expect(result.corrected).toEqual({ records: 3, relations: 2 });

    const expected = [
      `record ${changed}`,
      `record ${vanished}`,
      `record ${phantom}`,
      `relation TagOnObject/${kept}/${t2}`,
      `relation TagOnObject/${vanished}/${t1}`,
    ].sort();
    await count(connected, before + expected.length);
    await new Promise((resolve) => setTimeout(resolve, 500)); // nothing else may follow
    const corrections = connected.events.slice(before);
    expect(corrections.map(keyOf).sort()).toEqual(expected);
    // All at one offset past the cursor, that offset on the last event only.
    const at = corrections[0].data.offset as string;
    expect(BigInt(at)).toBeGreaterThan(BigInt(cursor));
    expect(corrections.map((e) => e.data.offset)).toEqual(corrections.map(() => at));
    expect(corrections.map((e) => e.id)).toEqual([
      ...corrections.slice(1).map(() => undefined),
      at,
    ]);
    const byKey = new Map(corrections.map((e) => [keyOf(e), e.data]));
    expect(byKey.get(`record ${changed}`)).toMatchObject({
      model: 'Object',
      deleted: false,
      data: expect.objectContaining({ note: 'one' }),
    });
    expect(byKey.get(`record ${vanished}`)).toMatchObject({
      model: 'Object',
      deleted: false,
      data: expect.objectContaining({ note: 'two' }),
    });
    expect(byKey.get(`record ${phantom}`)).toEqual({
      type: 'record',
      offset: at,
      id: phantom,
      model: 'Object',
      deleted: true,
      data: null,
    });
    expect(byKey.get(`relation TagOnObject/${kept}/${t2}`)).toEqual({
      type: 'relation',
      offset: at,
      relation: 'TagOnObject',
      item: kept,
      group: t2,
      visible: false,
      data: null,
    });
    expect(byKey.get(`relation TagOnObject/${vanished}/${t1}`)).toMatchObject({
      visible: true,
      data: { date_created: null },
    });
    expect(calmFollower.events).toHaveLength(1);

    // A follower that was away during the rebuild resumes from its old cursor: the same rows.
    const resumed = await open(`/libraries/${lib}/changes`, { 'Last-Event-ID': cursor });
    await count(resumed, expected.length);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(resumed.events.map(keyOf).sort()).toEqual(expected);
    expect(resumed.lastEventId).toBe(at);
    // Past the corrections, nothing is sent again; later ops come after them.
    const fromCorrections = await open(`/libraries/${lib}/changes`, { 'Last-Event-ID': at });
    const later = await p.post(lib, [op.update(A, kept, 'note', 'four')]);
    expect(BigInt(later.lastOffset)).toBeGreaterThan(BigInt(at));
    // The record and, by rule L3, its link: the usual events of an op.
    const afterOp = [`record ${kept}`, `relation TagOnObject/${kept}/${t1}`];
    await count(fromCorrections, afterOp.length);
    await count(connected, before + expected.length + afterOp.length);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(fromCorrections.events.map(keyOf)).toEqual(afterOp);
    expect(fromCorrections.lastEventId).toBe(later.lastOffset);
    expect(connected.events.slice(before + expected.length).map(keyOf)).toEqual(afterOp);
  }, 120_000);

  it('a rebuild that finds the live tables right sends nothing', async () => {
    const lib = randomUUID();
    const A = randomUUID();
    const posted = await p.post(lib, [op.create(A, randomUUID(), 'Object', { note: 'fine' })]);
    const follower = await open(
      `/libraries/${lib}/changes?minOffset=${posted.lastOffset}&waitMs=20000`,
    );
    await count(follower, 1);
    const result = await rebuild();
    expect(result.switched).toBe(true);
    expect(result.corrected).toEqual({ records: 0, relations: 0 });
    const again = await p.post(lib, [op.create(A, randomUUID(), 'Object', { note: 'next' })]);
    await count(follower, 2);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(follower.events).toHaveLength(2);
    expect(follower.events[1].id).toBe(again.lastOffset);
  }, 120_000);
});
