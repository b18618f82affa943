import { type SqlClient, quoteIdent, storedOffsetsSql } from '@sync/persistence';

/**
 * The tables the projector derives from the topic. Everything else in the database (api keys,
 * migrations, anything added beside them) is left where it is by a rebuild.
 */
export const PROJECTION_TABLES = [
  // First: a projector transaction locks it before any other table, so locking it first cannot
  // deadlock with one.
  'partition_offsets',
  'libraries',
  'records',
  'relations',
  'operations',
  'pending_operations',
  'rejected_operations',
] as const;

const qualified = (schema: string, table: string) => `${quoteIdent(schema)}.${quoteIdent(table)}`;

/** A foreign key from a table outside the projection to a projection table. */
export interface ExternalForeignKey {
  schema: string;
  table: string;
  name: string;
  definition: string;
}

/**
 * Refuses what a rebuild cannot carry over faithfully: missing tables, triggers (not copied by
 * LIKE) and views or rules bound to the live tables (they would keep pointing at the retired ones).
 */
export async function checkLiveTables(client: SqlClient, source = 'public'): Promise<void> {
  const { rows: present } = await client.query<{ relname: string }>(
    `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind = 'r' AND c.relname = ANY ($2::text[])`,
    [source, [...PROJECTION_TABLES]],
  );
  const missing = PROJECTION_TABLES.filter((t) => !present.some((row) => row.relname === t));
  if (missing.length > 0) {
    throw new Error(
      `${source} lacks projection table(s) ${missing.join(', ')}: run the migrations`,
    );
  }
  const { rows: triggers } = await client.query<{ name: string }>(
    `SELECT t.tgname || ' on ' || c.relname AS name
       FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = ANY ($2::text[]) AND NOT t.tgisinternal`,
    [source, [...PROJECTION_TABLES]],
  );
  if (triggers.length > 0) {
    throw new Error(
      `triggers on projection tables are not carried over by a rebuild: ${triggers.map((t) => t.name).join(', ')}`,
    );
  }
  const { rows: views } = await client.query<{ name: string }>(
    `SELECT DISTINCT v.relname AS name
       FROM pg_depend d
       JOIN pg_rewrite r ON r.oid = d.objid
       JOIN pg_class v ON v.oid = r.ev_class
       JOIN pg_class c ON c.oid = d.refobjid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE d.classid = 'pg_rewrite'::regclass AND n.nspname = $1
        AND c.relname = ANY ($2::text[]) AND v.oid <> c.oid`,
    [source, [...PROJECTION_TABLES]],
  );
  if (views.length > 0) {
    throw new Error(
      `views over projection tables would stay bound to the old tables: ${views.map((v) => v.name).join(', ')}`,
    );
  }
}

/**
 * Creates empty copies of the live projection tables in `target`, from what the live tables are
 * now (columns added by later migrations included): columns, defaults, identity, CHECK and NOT
 * NULL constraints, comments, storage; then primary keys, unique and exclusion constraints and
 * indexes under the live names (so later migrations find them), foreign keys between the copies,
 * own sequences for serial columns, and the live grants. Runs inside the caller's transaction.
 */
export async function createShadowTables(
  client: SqlClient,
  target: string,
  source = 'public',
): Promise<void> {
  const tables = [...PROJECTION_TABLES];
  await client.query(`CREATE SCHEMA ${quoteIdent(target)}`);
  for (const table of tables) {
    await client.query(
      `CREATE TABLE ${qualified(target, table)}
         (LIKE ${qualified(source, table)} INCLUDING ALL EXCLUDING INDEXES)`,
    );
  }

  // Constraints backed by an index, under their own names (their index takes the same name).
  const { rows: constraints } = await client.query<{
    relname: string;
    conname: string;
    definition: string;
    contype: string;
  }>(
    `SELECT c.relname, k.conname, k.contype, pg_get_constraintdef(k.oid) AS definition
       FROM pg_constraint k
       JOIN pg_class c ON c.oid = k.conrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = ANY ($2::text[]) AND k.contype IN ('p', 'u', 'x', 'f')
      ORDER BY CASE k.contype WHEN 'p' THEN 0 WHEN 'u' THEN 1 WHEN 'x' THEN 2 ELSE 3 END, k.conname`,
    [source, tables],
  );
  const constraintNames = new Set(constraints.map((k) => k.conname));
  // Definitions name other tables unqualified when visible: a key between projection tables must
  // resolve to the copy, a key to any other table to that table.
  await client.query(`SET LOCAL search_path = ${quoteIdent(target)}, ${quoteIdent(source)}`);
  for (const k of constraints) {
    await client.query(
      `ALTER TABLE ${qualified(target, k.relname)} ADD CONSTRAINT ${quoteIdent(k.conname)} ${k.definition}`,
    );
  }
  await client.query(`SET LOCAL search_path = DEFAULT`);

  // Plain indexes (not behind a constraint), re-pointed at the copy.
  const { rows: indexes } = await client.query<{ relname: string; indexname: string; def: string }>(
    `SELECT c.relname, i.relname AS indexname, pg_get_indexdef(x.indexrelid) AS def
       FROM pg_index x
       JOIN pg_class i ON i.oid = x.indexrelid
       JOIN pg_class c ON c.oid = x.indrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = ANY ($2::text[])`,
    [source, tables],
  );
  for (const index of indexes) {
    if (constraintNames.has(index.indexname)) continue;
    await client.query(retargetIndex(index.def, source, index.relname, target));
  }

  // Serial columns: LIKE copies nextval('live_seq'), which would keep drawing from the live
  // sequence and then point at the retired one. Give each copy a sequence of its own.
  const { rows: serials } = await client.query<{
    relname: string;
    attname: string;
    seqname: string;
    seqtype: string;
  }>(
    `SELECT c.relname, a.attname, s.relname AS seqname, format_type(q.seqtypid, NULL) AS seqtype
       FROM pg_attrdef d
       JOIN pg_class c ON c.oid = d.adrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.adnum
       JOIN pg_depend dep ON dep.classid = 'pg_attrdef'::regclass AND dep.objid = d.oid
                         AND dep.refclassid = 'pg_class'::regclass
       JOIN pg_class s ON s.oid = dep.refobjid AND s.relkind = 'S'
       JOIN pg_namespace sn ON sn.oid = s.relnamespace
       JOIN pg_sequence q ON q.seqrelid = s.oid
      WHERE n.nspname = $1 AND sn.nspname <> $1`,
    [target],
  );
  for (const serial of serials) {
    const sequence = qualified(target, serial.seqname);
    await client.query(
      `CREATE SEQUENCE ${sequence} AS ${serial.seqtype}
         OWNED BY ${qualified(target, serial.relname)}.${quoteIdent(serial.attname)}`,
    );
    await client.query(
      `ALTER TABLE ${qualified(target, serial.relname)} ALTER COLUMN ${quoteIdent(serial.attname)}
         SET DEFAULT nextval(${literal(`${quoteIdent(target)}.${quoteIdent(serial.seqname)}`)}::regclass)`,
    );
  }

  // Grants, so roles that read or write the live tables can do the same after the switch.
  const { rows: grants } = await client.query<{
    table_name: string;
    grantee: string;
    privilege_type: string;
  }>(
    `SELECT table_name, grantee, privilege_type FROM information_schema.role_table_grants
      WHERE table_schema = $1 AND table_name = ANY ($2::text[]) AND grantee <> current_user`,
    [source, tables],
  );
  for (const grant of grants) {
    const grantee = grant.grantee === 'PUBLIC' ? 'PUBLIC' : quoteIdent(grant.grantee);
    await client.query(
      `GRANT ${grant.privilege_type} ON ${qualified(target, grant.table_name)} TO ${grantee}`,
    );
  }
}

function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/**
 * pg_get_indexdef output, `CREATE [UNIQUE] INDEX name ON [ONLY] schema.table USING ...`, with
 * the table replaced by its copy in `target`; the index keeps its name (names are per schema).
 */
export function retargetIndex(
  definition: string,
  source: string,
  table: string,
  target: string,
): string {
  const from = ` ON ${maybeQuoted(source)}.${maybeQuoted(table)} USING `;
  const fromOnly = ` ON ONLY ${maybeQuoted(source)}.${maybeQuoted(table)} USING `;
  const to = ` ON ${quoteIdent(target)}.${quoteIdent(table)} USING `;
  if (definition.includes(from)) return definition.replace(from, to);
  if (definition.includes(fromOnly)) return definition.replace(fromOnly, to);
  throw new Error(`unexpected index definition: ${definition}`);
}

/** How Postgres prints an identifier: bare when it is a plain lowercase name, quoted otherwise. */
function maybeQuoted(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : quoteIdent(name);
}

/** Foreign keys of tables outside the projection that reference projection tables in `schema`. */
export async function externalForeignKeys(
  client: SqlClient,
  schema = 'public',
): Promise<ExternalForeignKey[]> {
  const { rows } = await client.query<ExternalForeignKey>(
    `SELECT n.nspname AS schema, c.relname AS "table", k.conname AS name,
            pg_get_constraintdef(k.oid) AS definition
       FROM pg_constraint k
       JOIN pg_class c ON c.oid = k.conrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_class r ON r.oid = k.confrelid
       JOIN pg_namespace rn ON rn.oid = r.relnamespace
      WHERE k.contype = 'f' AND rn.nspname = $1 AND r.relname = ANY ($2::text[])
        AND NOT (n.nspname = $1 AND c.relname = ANY ($2::text[]))`,
    [schema, [...PROJECTION_TABLES]],
  );
  return rows;
}

/**
 * The switch itself, inside the caller's transaction (live tables already locked): live tables
 * to `retired`, the copies from `shadow` into `live`, and foreign keys of other tables re-pointed
 * at the new tables (NOT VALID, so the lock is not held for a scan; validate them afterwards).
 */
export async function swapTables(
  client: SqlClient,
  shadow: string,
  retired: string,
  external: readonly ExternalForeignKey[],
  live = 'public',
): Promise<void> {
  for (const key of external) {
    await client.query(
      `ALTER TABLE ${qualified(key.schema, key.table)} DROP CONSTRAINT ${quoteIdent(key.name)}`,
    );
  }
  await client.query(`CREATE SCHEMA ${quoteIdent(retired)}`);
  for (const table of PROJECTION_TABLES) {
    await client.query(`ALTER TABLE ${qualified(live, table)} SET SCHEMA ${quoteIdent(retired)}`);
  }
  for (const table of PROJECTION_TABLES) {
    await client.query(`ALTER TABLE ${qualified(shadow, table)} SET SCHEMA ${quoteIdent(live)}`);
  }
  for (const key of external) {
    await client.query(
      `ALTER TABLE ${qualified(key.schema, key.table)} ADD CONSTRAINT ${quoteIdent(key.name)} ${key.definition} NOT VALID`,
    );
  }
}

export async function validateForeignKeys(
  client: SqlClient,
  external: readonly ExternalForeignKey[],
): Promise<string[]> {
  const problems: string[] = [];
  for (const key of external) {
    try {
      await client.query(
        `ALTER TABLE ${qualified(key.schema, key.table)} VALIDATE CONSTRAINT ${quoteIdent(key.name)}`,
      );
    } catch (error) {
      problems.push(
        `${key.table}.${key.name}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
  return problems;
}

/** Row differences between two schemas' projection tables, wall-clock timestamps left out. */
export interface TableDifference {
  table: string;
  liveRows: number;
  rebuiltRows: number;
  /** Rows of the live table with no identical row in the rebuilt one, and the reverse. */
  onlyLive: number;
  onlyRebuilt: number;
}

export async function compareTables(
  client: SqlClient,
  live: string,
  rebuilt: string,
): Promise<TableDifference[]> {
  const differences: TableDifference[] = [];
  for (const table of PROJECTION_TABLES) {
    const { rows: columns } = await client.query<{ column_name: string }>(
      `SELECT column_name FROM information_schema.columns
        WHERE table_schema = $1 AND table_name = $2
          AND data_type NOT IN ('timestamp with time zone', 'timestamp without time zone')
        ORDER BY ordinal_position`,
      [rebuilt, table],
    );
    const list = columns.map((c) => `${quoteIdent(c.column_name)}::text`).join(', ');
    const { rows } = await client.query<{
      live_rows: string;
      rebuilt_rows: string;
      only_live: string;
      only_rebuilt: string;
    }>(
      `SELECT (SELECT count(*) FROM ${qualified(live, table)}) AS live_rows,
              (SELECT count(*) FROM ${qualified(rebuilt, table)}) AS rebuilt_rows,
              (SELECT count(*) FROM (SELECT ${list} FROM ${qualified(live, table)}
                 EXCEPT ALL SELECT ${list} FROM ${qualified(rebuilt, table)}) x) AS only_live,
              (SELECT count(*) FROM (SELECT ${list} FROM ${qualified(rebuilt, table)}
                 EXCEPT ALL SELECT ${list} FROM ${qualified(live, table)}) y) AS only_rebuilt`,
    );
    differences.push({
      table,
      liveRows: Number(rows[0].live_rows),
      rebuiltRows: Number(rows[0].rebuilt_rows),
      onlyLive: Number(rows[0].only_live),
      onlyRebuilt: Number(rows[0].only_rebuilt),
    });
  }
  return differences;
}

/** Offsets stored in `schema`.partition_offsets for `topic`. */
export async function storedOffsets(
  client: SqlClient,
  schema: string,
  topic: string,
): Promise<Map<number, bigint>> {
  const { rows } = await client.query<{ partition: number; next_offset: string }>(
    storedOffsetsSql(schema),
    [topic],
  );
  return new Map(rows.map((row) => [row.partition, BigInt(row.next_offset)]));
}

/**
 * Makes the replay's commits silent. The projector notifies APPLIED_CHANNEL with the offsets it
 * commits; query services take those as the live position, so the replay's notifications (which
 * may run ahead of the live projector) must not reach them. Connections of the replay put
 * `schema` before pg_catalog in their search_path, which makes this no-op resolve first.
 */
export async function silenceNotifications(client: SqlClient, schema: string): Promise<void> {
  await client.query(
    `CREATE FUNCTION ${quoteIdent(schema)}.pg_notify(channel text, payload text) RETURNS void
       LANGUAGE sql AS 'SELECT NULL::void'`,
  );
}
