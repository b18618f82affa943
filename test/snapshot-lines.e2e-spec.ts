import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { Client } from 'pg';
import { type FieldWrite, compactClocks, defaultSchema } from '@sync/protocol';
import { recordLineSql, relationLineSql } from '../apps/query/src/snapshot-lines.sql';
import { QueryDatabase } from '../apps/query/src/query-database.service';
import { readQueryConfig } from '../apps/query/src/query.config';
import {
  type RelationRow,
  type SnapshotClocks,
  SnapshotRepository,
  type StoredSnapshotRecord,
  recordLine,
  relationLine,
} from '../apps/query/src/snapshot.repository';
import { usualClocks } from './snapshot-fixtures';
import { createTestDatabase } from './support/test-env';

/*
 * The snapshot's record and relation lines are built in Postgres (snapshot-lines.sql.ts). For
 * any stored row, the SQL text must be JSON that parses to exactly the line the JS path builds
 * from the same row (every value, every key, nothing more), or null exactly where it cannot be
 * (then the JS path runs). Rows are stored as the projector stores them: JSON.stringify'd data
 * and clocks cast to jsonb, and (in some rows) the clocks' compact text. A compact line's clocks
 * say what the usual line's say.
 */
const schema = defaultSchema();
const VISIBLE = 'r.present AND r.item_id < r.group_id';

/** Strings as they can be stored: any text but NUL (which jsonb refuses). */
const text = fc.string({ unit: 'binary', maxLength: 12 }).map((s) => s.replaceAll('\u0000', ''));
const number = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(1e21, -1e21, 1.5e300, 1e-7, -2.5e-9, 0.000001, 123.456, -0, 2 ** 53),
);
const scalar = fc.oneof(text, number, fc.boolean(), fc.constant(null));
const value = fc.oneof(
  { weight: 6, arbitrary: scalar },
  { weight: 1, arbitrary: fc.array(scalar, { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.dictionary(text, scalar, { maxKeys: 3 }) },
);
const clock = fc.tuple(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String), fc.uuid());

function fieldsOf(names: readonly string[]) {
  const name = fc.constantFrom(...names, 'undeclared_field');
  return {
    data: fc.dictionary(name, value, { maxKeys: names.length + 1 }),
    clocks: fc.dictionary(name, clock, { maxKeys: names.length + 1 }),
  };
}

const record = fc.constantFrom(...schema.models.map((m) => m.name), 'GhostModel').chain((model) => {
  const { data, clocks } = fieldsOf(schema.model(model)?.fieldNames ?? ['a', 'b']);
  return fc.record({
    model: fc.constant(model),
    owner: fc.option(fc.uuid(), { nil: null }),
    deleted: fc.boolean(),
    data,
    clocks,
    // Rows written before records.compact_clocks existed have none.
    compact: fc.boolean(),
  });
});

/** The compact text the projector stores for these clocks. */
function storedCompact(clocks: Record<string, [string, string]>): string | null {
  const fields: Record<string, FieldWrite> = {};
  for (const [name, [hybrid, node]] of Object.entries(clocks)) {
    fields[name] = { value: null, clock: { hybrid: BigInt(hybrid), node } };
  }
  return compactClocks(fields);
}

const relation = fc
  .constantFrom(...schema.relations.map((r) => r.name), 'GhostRelation')
  .chain((name) => {
    const { data, clocks } = fieldsOf(schema.relation(name)?.fieldNames ?? ['a']);
    return fc.record({
      relation: fc.constant(name),
      present: fc.boolean(),
      presenceClock: clock,
      data,
      clocks,
    });
  });

/** Where the SQL leaves the row to the JS path: an undeclared kind, or data with a field it does not declare. */
function jsPath(declared: readonly string[] | undefined, data: Record<string, unknown>): boolean {
  if (declared === undefined) return true;
  return Object.keys(data).some((name) => !declared.includes(name));
}

/** The line's text as its reader sees it: parsed, nothing kept of spacing or key order. */
const parsed = (line: string) => JSON.parse(line) as unknown;

/** Lines sorted by their JSON (values come from the same rows on both sides, keys in one order). */
const sortedByText = (lines: unknown[]) =>
  lines
    .map((l) => [JSON.stringify(l), l] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, l]) => l);

type RecordSpec = typeof record extends fc.Arbitrary<infer T> ? T : never;
type RelationSpec = typeof relation extends fc.Arbitrary<infer T> ? T : never;

async function insertRecords(client: Client, libraryId: string, rows: RecordSpec[]) {
  for (const [i, r] of rows.entries()) {
    await client.query(
      `INSERT INTO records (library_id, record_id, model, owner, deleted, data, clocks,
                            compact_clocks, updated_offset)
       VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8, $9)`,
      [
        libraryId,
        randomUUID(),
        r.model,
        r.owner,
        r.deleted,
        JSON.stringify(r.data),
        JSON.stringify(r.clocks),
        r.compact ? storedCompact(r.clocks) : null,
        i,
      ],
    );
  }
}

async function insertRelations(client: Client, libraryId: string, rows: RelationSpec[]) {
  for (const [i, r] of rows.entries()) {
    await client.query(
      `INSERT INTO relations (library_id, relation, item_id, group_id, present, presence_clock, data, clocks, updated_offset)
       VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8::jsonb, $9)`,
      [
        libraryId,
        r.relation,
        randomUUID(),
        randomUUID(),
        r.present,
        JSON.stringify(r.presenceClock),
        JSON.stringify(r.data),
        JSON.stringify(r.clocks),
        i,
      ],
    );
  }
}

describe('snapshot lines built in SQL', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let client: Client;

  beforeAll(async () => {
    db = await createTestDatabase('snapshot_lines');
    client = new Client({ connectionString: db.url });
    await client.connect();
  });

  afterAll(async () => {
    await client?.end();
    await db?.drop();
  });

  it('parse to the JS lines, or are null exactly where they cannot', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(record, { minLength: 1, maxLength: 15 }), async (rows) => {
        const libraryId = randomUUID();
        await insertRecords(client, libraryId, rows);
        const { rows: stored } = await client.query<
          StoredSnapshotRecord & {
            full: string | null;
            compact: string | null;
            visible: string | null;
          }
        >(
          `SELECT r.record_id, r.model, r.owner, r.deleted, r.data, r.clocks, r.compact_clocks,
                  ${recordLineSql(schema, true, 'fields')} AS full,
                  ${recordLineSql(schema, true, 'compact')} AS compact,
                  ${recordLineSql(schema, false, 'fields')} AS visible
             FROM records r WHERE r.library_id = $1`,
          [libraryId],
        );
        expect(stored).toHaveLength(rows.length);
        for (const row of stored) {
          const expectNull = jsPath(schema.model(row.model)?.fieldNames, row.data);
          expect(row.full === null).toBe(expectNull);
          expect(row.compact === null).toBe(expectNull);
          expect(row.visible === null).toBe(expectNull);
          const usual = recordLine(schema, row, true, 'fields');
          const compact = recordLine(schema, row, true, 'compact');
          expect(typeof compact.clocks).toBe(row.compact_clocks === null ? 'object' : 'string');
          // Same clocks, field for field and in the same order, in either form.
          const clocksInOrder = (c: unknown) => Object.entries(usualClocks(c) as object);
          expect(clocksInOrder(compact.clocks)).toEqual(clocksInOrder(usual.clocks));
          if (row.full !== null) expect(parsed(row.full)).toEqual(usual);
          if (row.compact !== null) expect(parsed(row.compact)).toEqual(compact);
          if (row.visible !== null) {
            expect(parsed(row.visible)).toEqual(recordLine(schema, row, false, 'fields'));
          }
        }
      }),
      { numRuns: 150 },
    );
  });

  it('hold for relation lines too', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(relation, { minLength: 1, maxLength: 15 }), async (rows) => {
        const libraryId = randomUUID();
        await insertRelations(client, libraryId, rows);
        const { rows: stored } = await client.query<
          RelationRow & { full: string | null; view: string | null }
        >(
          `SELECT r.relation, r.item_id, r.group_id, r.present, r.presence_clock, r.data, r.clocks,
                  ${VISIBLE} AS visible,
                  ${relationLineSql(schema, true, VISIBLE)} AS full,
                  ${relationLineSql(schema, false, VISIBLE)} AS view
             FROM relations r WHERE r.library_id = $1`,
          [libraryId],
        );
        expect(stored).toHaveLength(rows.length);
        for (const row of stored) {
          const expectNull = jsPath(schema.relation(row.relation)?.fieldNames, row.data);
          expect(row.full === null).toBe(expectNull);
          expect(row.view === null).toBe(expectNull);
          if (row.full !== null) expect(parsed(row.full)).toEqual(relationLine(schema, row, true));
          if (row.view !== null) {
            expect(parsed(row.view)).toEqual(relationLine(schema, row, false));
          }
        }
      }),
      { numRuns: 150 },
    );
  });

  it('stream through COPY as those lines, in key order or none, the JS path taking the rows SQL leaves null', async () => {
    const config = readQueryConfig({ DATABASE_URL: db.url, SYNC_AUTH_DISABLED: 'true' });
    const database = new QueryDatabase(config);
    const repository = new SnapshotRepository(config, database);
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(record, { maxLength: 12 }),
          fc.array(relation, { maxLength: 12 }),
          fc.boolean(),
          fc.boolean(),
          fc.constantFrom<SnapshotClocks>('fields', 'compact'),
          async (records, relations, full, ordered, clocks) => {
            const libraryId = randomUUID();
            await insertRecords(client, libraryId, records);
            await insertRelations(client, libraryId, relations);
            const snapshot = await repository.open(
              libraryId,
              0,
              full ? 'full' : 'visible',
              ordered ? 'key' : 'none',
              clocks,
            );
            // order=none: the same lines in any order, so both sides are compared sorted.
            const asRead = (ls: unknown[]) => (ordered ? ls : sortedByText(ls));
            let text = '';
            try {
              for await (const chunk of snapshot.chunks()) text += chunk.text.toString();
            } finally {
              await snapshot.close();
            }
            const lines = text.split('\n').slice(0, -1).map(parsed);
            const { rows: storedRecords } = await client.query<StoredSnapshotRecord>(
              `SELECT record_id, model, owner, deleted, data, clocks, compact_clocks FROM records
                WHERE library_id = $1 ${full ? '' : 'AND NOT deleted'} ORDER BY record_id`,
              [libraryId],
            );
            const want = storedRecords.map((row) => recordLine(schema, row, full, clocks));
            expect(asRead(lines.slice(0, want.length))).toEqual(asRead(want));
            const relationLines = lines.slice(want.length);
            const { rows: storedRelations } = await client.query<RelationRow>(
              `SELECT relation, item_id, group_id, present, presence_clock, data, clocks FROM relations
                WHERE library_id = $1 ORDER BY relation, item_id, group_id`,
              [libraryId],
            );
            // No relation of these has its item and group: none is visible (L3).
            expect(asRead(relationLines)).toEqual(
              asRead(
                full
                  ? storedRelations.map((row) =>
                      relationLine(schema, { ...row, visible: false }, true),
                    )
                  : [],
              ),
            );
          },
        ),
        { numRuns: 40 },
      );
    } finally {
      await database.onApplicationShutdown();
    }
  });
});
