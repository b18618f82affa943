import { Client } from 'pg';
import { createTestDatabase } from './support/test-env';

/*
 * The schema is ready to be distributed by library with Citus (docs/SCALING.md): every table
 * holding a library's rows has library_id, and its primary key and every unique constraint or
 * unique index lead with it, so each of them is enforceable within one shard and libraries
 * never span shards. Every other table is listed here with what it becomes: a new table either
 * has library_id and the keys above, or is added to the list with its reason.
 */

/** Tables not distributed by library, and what they are under Citus. */
const NOT_PER_LIBRARY: Record<string, string> = {
  partition_offsets: 'reference table: one row per Kafka partition, joined with libraries',
  api_keys:
    'local table on the coordinator: a key spans all libraries or names one (library_id may be null); never joined',
  typeorm_migrations: "local table on the coordinator: TypeORM's record of applied migrations",
  topic_partitions:
    'local table on the coordinator: the partition count recorded per topic, read at start-up',
};

interface KeyRow {
  table: string;
  index: string;
  kind: 'primary key' | 'unique';
  first_column: string | null;
}

describe('schema is ready for Citus (distribution column library_id)', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let client: Client;

  beforeAll(async () => {
    database = await createTestDatabase('citus_ready');
    client = new Client({ connectionString: database.url });
    await client.connect();
  }, 60_000);

  afterAll(async () => {
    await client?.end();
    await database?.drop();
  });

  const tables = async (): Promise<{ name: string; perLibrary: boolean }[]> => {
    const { rows } = await client.query<{ name: string; per_library: boolean }>(
      `SELECT c.relname AS name,
              EXISTS (SELECT 1 FROM pg_attribute a
                       WHERE a.attrelid = c.oid AND a.attname = 'library_id' AND NOT a.attisdropped)
                AS per_library
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
        ORDER BY 1`,
    );
    return rows.map((row) => ({
      name: row.name,
      perLibrary: row.per_library && !(row.name in NOT_PER_LIBRARY),
    }));
  };

  it('classifies every table: distributed by library, or listed as reference/local', async () => {
    const all = await tables();
    const perLibrary = all.filter((t) => t.perLibrary).map((t) => t.name);
    expect(perLibrary).toEqual(
      expect.arrayContaining(['libraries', 'records', 'relations', 'operations']),
    );
    const others = all.filter((t) => !t.perLibrary).map((t) => t.name);
    expect(others.filter((name) => !(name in NOT_PER_LIBRARY))).toEqual([]);
    // The list names tables that exist.
    expect(Object.keys(NOT_PER_LIBRARY).filter((name) => !others.includes(name))).toEqual([]);
  });

  it('every primary key and unique constraint or index of a per-library table leads with library_id', async () => {
    const perLibrary = (await tables()).filter((t) => t.perLibrary).map((t) => t.name);
    const { rows } = await client.query<KeyRow>(
      `SELECT t.relname AS table, i.relname AS index,
              CASE WHEN x.indisprimary THEN 'primary key' ELSE 'unique' END AS kind,
              a.attname AS first_column
         FROM pg_index x
         JOIN pg_class t ON t.oid = x.indrelid
         JOIN pg_class i ON i.oid = x.indexrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace
         LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = x.indkey[0]
        WHERE n.nspname = 'public' AND (x.indisprimary OR x.indisunique)
          AND t.relname = ANY ($1::text[])
        ORDER BY 1, 2`,
      [perLibrary],
    );
    // first_column is null for an expression: that does not lead with library_id either.
    const offending = rows.filter((row) => row.first_column !== 'library_id');
    expect(offending).toEqual([]);
    // Each per-library table has a primary key, and it was among those checked.
    const withPrimaryKey = new Set(
      rows.filter((r) => r.kind === 'primary key').map((r) => r.table),
    );
    expect(perLibrary.filter((table) => !withPrimaryKey.has(table))).toEqual([]);
    expect(rows.some((r) => r.index === 'operations_identity' && r.kind === 'unique')).toBe(true);
  });
});
