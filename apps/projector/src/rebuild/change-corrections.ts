import { type SqlClient, quoteIdent } from '@sync/persistence';

/**
 * What a `/changes` event of a row carries, compared between the live tables and the rebuilt
 * ones: a record's model, deleted flag and data; a relation's presence and data. Field clocks,
 * owners and updated_offset are left out: a follower never sees them.
 */
const RECORD_CONTENT = ['model', 'deleted', 'data'];
const RELATION_CONTENT = ['present', 'data'];

const qualified = (schema: string, table: string) => `${quoteIdent(schema)}.${quoteIdent(table)}`;
const content = (alias: string, columns: readonly string[]) =>
  `(${columns.map((c) => `${alias}.${quoteIdent(c)}`).join(', ')})`;

/** The libraries with corrected rows, each with the partition its changes are ordered in. */
export interface CorrectedLibrary {
  libraryId: string;
  /** As the projector recorded it (new tables first); undefined when neither did. */
  partition: number | undefined;
}

/**
 * Finds the rows whose content differs between `live` and `rebuilt` (changed, appeared or
 * vanished) into the temporary tables corrected_records and corrected_relations, dropped at
 * commit. A relation of a corrected record is corrected too: its visibility (rule L3) may have
 * changed with it (two joins, item and group, each on an index; one join on either column scans
 * every relation). Runs inside the switch transaction, before the swap.
 */
export async function findCorrections(
  client: SqlClient,
  live: string,
  rebuilt: string,
): Promise<CorrectedLibrary[]> {
  await client.query(
    `CREATE TEMP TABLE corrected_records ON COMMIT DROP AS
     SELECT COALESCE(n.library_id, o.library_id) AS library_id,
            COALESCE(n.record_id, o.record_id) AS record_id, COALESCE(n.model, o.model) AS model
       FROM ${qualified(live, 'records')} o
       FULL JOIN ${qualified(rebuilt, 'records')} n
         ON n.library_id = o.library_id AND n.record_id = o.record_id
      WHERE o.record_id IS NULL OR n.record_id IS NULL
         OR ${content('o', RECORD_CONTENT)} IS DISTINCT FROM ${content('n', RECORD_CONTENT)}`,
  );
  await client.query(
    `CREATE TEMP TABLE corrected_relations ON COMMIT DROP AS
     SELECT COALESCE(n.library_id, o.library_id) AS library_id,
            COALESCE(n.relation, o.relation) AS relation,
            COALESCE(n.item_id, o.item_id) AS item_id,
            COALESCE(n.group_id, o.group_id) AS group_id
       FROM ${qualified(live, 'relations')} o
       FULL JOIN ${qualified(rebuilt, 'relations')} n
         ON n.library_id = o.library_id AND n.relation = o.relation
        AND n.item_id = o.item_id AND n.group_id = o.group_id
      WHERE o.relation IS NULL OR n.relation IS NULL
         OR ${content('o', RELATION_CONTENT)} IS DISTINCT FROM ${content('n', RELATION_CONTENT)}
     UNION
     SELECT t.library_id, t.relation, t.item_id, t.group_id
       FROM corrected_records c
       JOIN ${qualified(rebuilt, 'relations')} t
         ON t.library_id = c.library_id AND t.item_id = c.record_id
     UNION
     SELECT t.library_id, t.relation, t.item_id, t.group_id
       FROM corrected_records c
       JOIN ${qualified(rebuilt, 'relations')} t
         ON t.library_id = c.library_id AND t.group_id = c.record_id`,
  );
  const { rows } = await client.query<{ library_id: string; partition: number | null }>(
    `SELECT k.library_id,
            COALESCE((SELECT l.partition FROM ${qualified(rebuilt, 'libraries')} l
                       WHERE l.library_id = k.library_id),
                     (SELECT l.partition FROM ${qualified(live, 'libraries')} l
                       WHERE l.library_id = k.library_id)) AS partition
       FROM (SELECT library_id FROM corrected_records
             UNION SELECT library_id FROM corrected_relations) k
      ORDER BY 1`,
  );
  return rows.map((row) => ({
    libraryId: row.library_id,
    partition: row.partition ?? undefined,
  }));
}

/**
 * Files the rows found by findCorrections in `schema`'s record_corrections and
 * relation_corrections, each at the offset `changeOffsets` gives its library.
 */
export async function recordCorrections(
  client: SqlClient,
  schema: string,
  changeOffsets: ReadonlyMap<string, bigint>,
): Promise<{ records: number; relations: number }> {
  const libraries = [...changeOffsets.keys()];
  const offsets = [...changeOffsets.values()].map((offset) => offset.toString(10));
  const at = `unnest($1::uuid[], $2::bigint[]) AS p(library_id, change_offset)`;
  const records = await client.query(
    `INSERT INTO ${qualified(schema, 'record_corrections')}
       (library_id, record_id, change_offset, model)
     SELECT c.library_id, c.record_id, p.change_offset, c.model
       FROM corrected_records c JOIN ${at} ON p.library_id = c.library_id`,
    [libraries, offsets],
  );
  const relations = await client.query(
    `INSERT INTO ${qualified(schema, 'relation_corrections')}
       (library_id, relation, item_id, group_id, change_offset)
     SELECT c.library_id, c.relation, c.item_id, c.group_id, p.change_offset
       FROM corrected_relations c JOIN ${at} ON p.library_id = c.library_id`,
    [libraries, offsets],
  );
  return { records: records.rowCount ?? 0, relations: relations.rowCount ?? 0 };
}
