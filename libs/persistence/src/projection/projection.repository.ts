import {
  type LibrarySlice,
  type Operation,
  type TouchedKeys,
  emptySlice,
  identityKey,
  relationKey,
  TextPieces,
} from '@sync/protocol';
import { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import {
  type LibraryDelta,
  type OperationRow,
  type PendingRow,
  type ProjectionChanges,
  type RecordRow,
  type RejectionRow,
  type RelationRow,
  type StoredRecordColumns,
  type StoredRelationColumns,
  fieldsFromStored,
  fromStoredClock,
} from './projection-rows';
import { type SqlClient, prepared } from './sql-client';

/*
 * Set-based reads and writes of the rows a batch touches. Every statement covers all libraries of
 * the batch at once (keys bound as arrays and expanded with unnest, rows as one JSON array), so a
 * batch costs a fixed handful of round trips whatever its size.
 */

/** A touched record key: its stored columns when the record exists, else its pending ops. */
type RecordOrPendingDbRow =
  | (StoredRecordColumns & { library_id: string; pending: null })
  | {
      library_id: string;
      record_id: string;
      model: null;
      pending: [offset: string, op: Operation][] | null;
    };

type RelationDbRow = StoredRelationColumns & { library_id: string };

interface IdentityDbRow {
  library_id: string;
  node: string;
  hybrid: string;
  log_offset: string;
  content_hash: string;
}

const text = (value: bigint): string => value.toString(10);

/** The rows of a `lines` parameter, each as a text array `f` of its fields. */
const rowsOf = (lines: string): string => `(SELECT string_to_array(line, E'\\t', '') AS f
                 FROM string_to_table(${lines}::text, E'\\n') AS line) AS x`;

/**
 * A write's statements sent as one: each a data-modifying WITH item of a single statement, so a
 * small batch's records, ops and library counts cost one round trip instead of one each. They
 * see one snapshot and touch disjoint rows (an upsert never meets another item's row), which is
 * what running them one after another gave too.
 */
class CombinedWrite {
  private readonly items: string[] = [];
  private readonly values: unknown[] = [];

  /** Adds a statement; `param` turns a value into its placeholder. */
  add(build: (param: (value: unknown) => string) => string): void {
    this.items.push(
      build((value) => {
        this.values.push(value);
        return `$${this.values.length}`;
      }),
    );
  }

  async send(client: SqlClient): Promise<void> {
    if (this.items.length === 0) return;
    const statement =
      this.items.length === 1
        ? this.items[0]
        : `WITH ${this.items.map((item, i) => `w${i} AS (${item})`).join(',\n')}\nSELECT 1`;
    await client.query(prepared(statement), this.values);
  }
}

/**
 * Rows as text: one line per row, fields separated by tabs, '' read back as NULL. Only for fields
 * that cannot contain a tab or a newline: UUIDs, numbers, schema names, and JSON.stringify output
 * (which escapes every control character inside strings).
 */
function lines<T>(rows: readonly T[], fields: (row: T) => (string | null)[]): string {
  return rows.map((row) => fields(row).join('\t')).join('\n');
}

export class ProjectionRepository {
  /**
   * Loads, for each library, exactly the rows `touchedKeys` names that exist: records, the pending
   * ops of records not created yet, relations, and the accepted identities among the batch's.
   */
  async loadSlices(
    client: SqlClient,
    touched: ReadonlyMap<string, TouchedKeys>,
  ): Promise<Map<string, LibrarySlice>> {
    const slices = new Map<string, LibrarySlice>();
    const recLib: string[] = [];
    const recId: string[] = [];
    const relLib: string[] = [];
    const relName: string[] = [];
    const relItem: string[] = [];
    const relGroup: string[] = [];
    // Identities by library and node: most are above everything that node has in the log.
    const identities = new Map<string, { libraryId: string; node: string; hybrids: bigint[] }>();
    for (const [libraryId, keys] of touched) {
      slices.set(libraryId, emptySlice());
      for (const id of keys.recordIds) {
        recLib.push(libraryId);
        recId.push(id);
      }
      for (const key of keys.relationKeys) {
        relLib.push(libraryId);
        relName.push(key.relation);
        relItem.push(key.item);
        relGroup.push(key.group);
      }
      for (const { node, hybrid } of keys.identities) {
        const key = `${libraryId}/${node}`;
        const byNode = identities.get(key);
        if (byNode === undefined) identities.set(key, { libraryId, node, hybrids: [hybrid] });
        else byNode.hybrids.push(hybrid);
      }
    }
    const slice = (libraryId: string) => slices.get(libraryId) as LibrarySlice;

    if (recId.length > 0) {
      // One row per touched key: the record, or else (only a record without its CREATE can have
      // them; the CREATE resolves them all) its pending ops in log order.
      const { rows } = await client.query<RecordOrPendingDbRow>(
        prepared(`SELECT k.library_id, k.record_id, r.model, r.owner, r.deleted, r.data, r.clocks,
                  CASE WHEN r.record_id IS NULL THEN
                    (SELECT json_agg(json_build_array(p.log_offset::text, p.operation)
                                     ORDER BY p.log_offset)
                       FROM pending_operations p
                      WHERE p.library_id = k.library_id AND p.record_id = k.record_id)
                  END AS pending
             FROM unnest($1::uuid[], $2::uuid[]) AS k(library_id, record_id)
             LEFT JOIN records r ON r.library_id = k.library_id AND r.record_id = k.record_id`),
        [recLib, recId],
      );
      for (const row of rows) {
        if (row.model !== null) {
          slice(row.library_id).records.set(row.record_id, {
            recordId: row.record_id,
            model: row.model,
            owner: row.owner,
            deleted: row.deleted,
            fields: fieldsFromStored(row.data, row.clocks),
          });
        } else if (row.pending !== null) {
          slice(row.library_id).pending.set(
            row.record_id,
            row.pending.map(([offset, op]) => ({ offset: BigInt(offset), op })),
          );
        }
      }
    }

    if (relName.length > 0) {
      const { rows } = await client.query<RelationDbRow>(
        prepared(`SELECT r.library_id, r.relation, r.item_id, r.group_id, r.present, r.presence_clock,
                r.data, r.clocks
           FROM relations r
           JOIN unnest($1::uuid[], $2::text[], $3::uuid[], $4::uuid[])
                AS k(library_id, relation, item_id, group_id)
             ON r.library_id = k.library_id AND r.relation = k.relation
            AND r.item_id = k.item_id AND r.group_id = k.group_id`),
        [relLib, relName, relItem, relGroup],
      );
      for (const row of rows) {
        slice(row.library_id).relations.set(relationKey(row.relation, row.item_id, row.group_id), {
          relation: row.relation,
          item: row.item_id,
          group: row.group_id,
          presence: { exists: row.present, clock: fromStoredClock(row.presence_clock) },
          fields: fieldsFromStored(row.data, row.clocks),
        });
      }
    }

    if (identities.size > 0) {
      for (const row of await this.loadAcceptedIdentities(client, [...identities.values()])) {
        slice(row.library_id).accepted.set(identityKey(row.node, row.hybrid), {
          offset: BigInt(row.log_offset),
          contentHash: row.content_hash,
        });
      }
    }
    return slices;
  }

  /**
   * The accepted ops among these identities (D1). A node's clock only moves forward, so nearly
   * every op is above the greatest hybrid its node has in the library's log (one index probe per
   * library and node finds it): only identities at or below it are looked up one by one.
   */
  private async loadAcceptedIdentities(
    client: SqlClient,
    groups: readonly { libraryId: string; node: string; hybrids: bigint[] }[],
  ): Promise<IdentityDbRow[]> {
    const { rows: tops } = await client.query<{ max_hybrid: string | null }>(
      prepared(`SELECT (SELECT max(o.hybrid) FROM operations o
                WHERE o.library_id = k.library_id AND o.node = k.node)::text AS max_hybrid
         FROM unnest($1::uuid[], $2::uuid[]) WITH ORDINALITY AS k(library_id, node, n)
        ORDER BY k.n`),
      [groups.map((g) => g.libraryId), groups.map((g) => g.node)],
    );
    const idLib: string[] = [];
    const idNode: string[] = [];
    const idHybrid: string[] = [];
    groups.forEach((group, i) => {
      const top = tops[i].max_hybrid;
      if (top === null) return;
      const max = BigInt(top);
      for (const hybrid of group.hybrids) {
        if (hybrid > max) continue;
        idLib.push(group.libraryId);
        idNode.push(group.node);
        idHybrid.push(text(hybrid));
      }
    });
    if (idHybrid.length === 0) return [];
    const { rows } = await client.query<IdentityDbRow>(
      prepared(`SELECT o.library_id, o.node, o.hybrid::text AS hybrid, o.log_offset, o.content_hash
         FROM operations o
         JOIN unnest($1::uuid[], $2::uuid[], $3::numeric[]) AS k(library_id, node, hybrid)
           ON o.library_id = k.library_id AND o.node = k.node AND o.hybrid = k.hybrid`),
      [idLib, idNode, idHybrid],
    );
    return rows;
  }

  /**
   * Writes every row of `changes`: one statement per table (tables with no rows skipped), all
   * sent as one (CombinedWrite) after the COPYs.
   *
   * Large sets of plain inserts (op log, pending ops, rejections, and records and relations the
   * batch created) go through COPY FROM STDIN: Postgres parses COPY rows far cheaper than rows
   * of an INSERT ... SELECT. Everything else (upserts of rows that exist, small sets, and any
   * client that is not a pg connection) travels as one text parameter per statement, a line per
   * row and a tab between fields (see `lines`), split again by string_to_table/string_to_array:
   * building it costs Node one native JSON.stringify per JSON field, and Postgres parses each
   * JSON value once, as jsonb.
   */
  async write(client: SqlClient, changes: ProjectionChanges): Promise<void> {
    const { records, relations, pendingAdded, pendingResolved, operations, revoked, rejections } =
      changes;
    const combined = new CombinedWrite();

    const recordUpserts = await copyCreated(client, 'records', RECORD_COLUMNS, records, recordLine);
    if (recordUpserts.length > 0) {
      combined.add(
        (param) => `INSERT INTO records AS t (${RECORD_COLUMNS})
         SELECT f[1]::uuid, f[2]::uuid, f[3], f[4]::uuid, f[5]::boolean, f[6]::jsonb, f[7]::jsonb,
                f[8], f[9]::bigint
           FROM ${rowsOf(param(lines(recordUpserts, recordFields)))}
         ON CONFLICT (library_id, record_id) DO UPDATE SET
           model = EXCLUDED.model, owner = EXCLUDED.owner, deleted = EXCLUDED.deleted,
           data = EXCLUDED.data, clocks = EXCLUDED.clocks, compact_clocks = EXCLUDED.compact_clocks,
           updated_offset = EXCLUDED.updated_offset`,
      );
    }
    const relationUpserts = await copyCreated(
      client,
      'relations',
      RELATION_COLUMNS,
      relations,
      relationLine,
    );
    if (relationUpserts.length > 0) {
      combined.add(
        (param) => `INSERT INTO relations AS t (${RELATION_COLUMNS})
         SELECT f[1]::uuid, f[2], f[3]::uuid, f[4]::uuid, f[5]::boolean, f[6]::jsonb, f[7]::jsonb,
                f[8]::jsonb, f[9]::bigint
           FROM ${rowsOf(param(lines(relationUpserts, relationFields)))}
         ON CONFLICT (library_id, relation, item_id, group_id) DO UPDATE SET
           present = EXCLUDED.present, presence_clock = EXCLUDED.presence_clock,
           data = EXCLUDED.data, clocks = EXCLUDED.clocks, updated_offset = EXCLUDED.updated_offset`,
      );
    }
    if (pendingResolved.length > 0) {
      combined.add(
        (param) => `DELETE FROM pending_operations p
          USING unnest(${param(pendingResolved.map((r) => r.libraryId))}::uuid[],
                       ${param(pendingResolved.map((r) => text(r.offset)))}::bigint[])
                AS d(library_id, log_offset)
          WHERE p.library_id = d.library_id AND p.log_offset = d.log_offset`,
      );
    }
    await insertRows(client, combined, PENDING_INSERT, pendingAdded);
    if (revoked.length > 0) {
      combined.add(
        (param) => `DELETE FROM operations o
          USING unnest(${param(revoked.map((r) => r.libraryId))}::uuid[],
                       ${param(revoked.map((r) => text(r.offset)))}::bigint[])
                AS d(library_id, log_offset)
          WHERE o.library_id = d.library_id AND o.log_offset = d.log_offset`,
      );
    }
    await insertRows(client, combined, OPERATION_INSERT, operations);
    await insertRows(client, combined, REJECTION_INSERT, rejections);
    const libraries = mergeDeltas(changes.libraries);
    if (libraries.length > 0) {
      combined.add(
        (param) => `INSERT INTO libraries AS l
              (library_id, partition, operations, rejected, first_offset, last_offset)
         SELECT * FROM unnest(${param(libraries.map((l) => l.libraryId))}::uuid[],
                              ${param(libraries.map((l) => l.partition))}::int[],
                              ${param(libraries.map((l) => l.operations))}::bigint[],
                              ${param(libraries.map((l) => l.rejected))}::bigint[],
                              ${param(libraries.map((l) => text(l.firstOffset)))}::bigint[],
                              ${param(libraries.map((l) => text(l.lastOffset)))}::bigint[])
         ON CONFLICT (library_id) DO UPDATE SET
           partition = EXCLUDED.partition,
           operations = l.operations + EXCLUDED.operations,
           rejected = l.rejected + EXCLUDED.rejected,
           first_offset = LEAST(l.first_offset, EXCLUDED.first_offset),
           last_offset = GREATEST(l.last_offset, EXCLUDED.last_offset),
           updated_at = now()`,
      );
    }
    await combined.send(client);
  }
}

/* Row fields as text, in column order, for `lines` (which reads '' as NULL). */
const RECORD_COLUMNS =
  'library_id, record_id, model, owner, deleted, data, clocks, compact_clocks, updated_offset';
const recordFields = (r: RecordRow): (string | null)[] => [
  r.libraryId,
  r.recordId,
  r.model,
  r.owner,
  r.deleted ? 't' : 'f',
  JSON.stringify(r.data),
  JSON.stringify(r.clocks),
  r.compactClocks,
  text(r.updatedOffset),
];
const RELATION_COLUMNS =
  'library_id, relation, item_id, group_id, present, presence_clock, data, clocks, updated_offset';
const relationFields = (r: RelationRow): (string | null)[] => [
  r.libraryId,
  r.relation,
  r.itemId,
  r.groupId,
  r.present ? 't' : 'f',
  JSON.stringify(r.presenceClock),
  JSON.stringify(r.data),
  JSON.stringify(r.clocks),
  text(r.updatedOffset),
];
const PENDING_COLUMNS = 'library_id, log_offset, record_id, operation';
const pendingFields = (r: PendingRow): string[] => [
  r.libraryId,
  text(r.offset),
  r.recordId,
  JSON.stringify(r.operation),
];
const OPERATION_COLUMNS = 'library_id, log_offset, node, hybrid, content_hash, operation';
const operationFields = (r: OperationRow): string[] => [
  r.libraryId,
  text(r.offset),
  r.node,
  r.hybrid,
  r.contentHash,
  JSON.stringify(r.operation),
];
const REJECTION_COLUMNS = 'library_id, log_offset, operation, reason, message';

/** Below this many rows one INSERT round trip beats COPY's two (COPY waits for the server's go). */
const COPY_MIN_ROWS = 64;

/*
 * Rows as lines of COPY text (tab-separated, \N for NULL, backslash, tab, newline and CR
 * escaped). UUIDs, numbers, hashes and compact clocks never need escaping; JSON.stringify output
 * holds no raw control character, so only its backslashes are doubled.
 */
const COPY_SPECIAL = /[\\\t\n\r]/;
const COPY_SPECIALS = /[\\\t\n\r]/g;
const COPY_ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  '\t': '\\t',
  '\n': '\\n',
  '\r': '\\r',
};
const copyText = (value: string): string =>
  COPY_SPECIAL.test(value) ? value.replace(COPY_SPECIALS, (c) => COPY_ESCAPES[c]) : value;
const copyJson = (value: unknown): string => {
  const json = JSON.stringify(value);
  return json.includes('\\') ? json.replaceAll('\\', '\\\\') : json;
};
const recordLine = (r: RecordRow): string =>
  `${r.libraryId}\t${r.recordId}\t${copyText(r.model)}\t${r.owner ?? '\\N'}\t${r.deleted ? 't' : 'f'}\t${copyJson(r.data)}\t${copyJson(r.clocks)}\t${r.compactClocks ?? '\\N'}\t${r.updatedOffset}\n`;
const relationLine = (r: RelationRow): string =>
  `${r.libraryId}\t${copyText(r.relation)}\t${r.itemId}\t${r.groupId}\t${r.present ? 't' : 'f'}\t${copyJson(r.presenceClock)}\t${copyJson(r.data)}\t${copyJson(r.clocks)}\t${r.updatedOffset}\n`;
const pendingLine = (r: PendingRow): string =>
  `${r.libraryId}\t${r.offset}\t${r.recordId}\t${copyJson(r.operation)}\n`;
const operationLine = (r: OperationRow): string =>
  `${r.libraryId}\t${r.offset}\t${r.node}\t${r.hybrid}\t${r.contentHash}\t${copyJson(r.operation)}\n`;
const rejectionLine = (r: RejectionRow): string =>
  `${r.libraryId}\t${r.offset}\t${copyJson(r.operation)}\t${copyText(r.reason)}\t${copyText(r.message)}\n`;

/** A table the projector only appends to: its COPY line and its INSERT ... SELECT form. */
interface InsertSpec<T> {
  table: string;
  columns: string;
  copyLine: (row: T) => string;
  /** The SELECT list over `f`, the row's fields as text (see rowsOf). */
  select: string;
  fields: (row: T) => (string | null)[];
}

const PENDING_INSERT: InsertSpec<PendingRow> = {
  table: 'pending_operations',
  columns: PENDING_COLUMNS,
  copyLine: pendingLine,
  select: 'f[1]::uuid, f[2]::bigint, f[3]::uuid, f[4]::jsonb',
  fields: pendingFields,
};
const OPERATION_INSERT: InsertSpec<OperationRow> = {
  table: 'operations',
  columns: OPERATION_COLUMNS,
  copyLine: operationLine,
  select: 'f[1]::uuid, f[2]::bigint, f[3]::uuid, f[4]::numeric, f[5], f[6]::jsonb',
  fields: operationFields,
};
const REJECTION_INSERT: InsertSpec<RejectionRow> = {
  table: 'rejected_operations',
  columns: REJECTION_COLUMNS,
  copyLine: rejectionLine,
  // reason and message may hold any text (they quote the op): sent as JSON strings.
  select: "f[1]::uuid, f[2]::bigint, f[3]::jsonb, f[4]::jsonb #>> '{}', f[5]::jsonb #>> '{}'",
  fields: (r) => [
    r.libraryId,
    text(r.offset),
    JSON.stringify(r.operation),
    JSON.stringify(r.reason),
    JSON.stringify(r.message),
  ],
};

/**
 * Appends rows: by COPY at once when there are enough of them on a pg connection, else as an
 * INSERT of the combined write.
 */
async function insertRows<T>(
  client: SqlClient,
  combined: CombinedWrite,
  spec: InsertSpec<T>,
  rows: readonly T[],
): Promise<void> {
  if (rows.length === 0) return;
  if (copyApplies(client, rows)) {
    await copyInto(client, spec.table, spec.columns, rows, spec.copyLine);
    return;
  }
  combined.add(
    (param) =>
      `INSERT INTO ${spec.table} (${spec.columns}) SELECT ${spec.select} FROM ${rowsOf(param(lines(rows, spec.fields)))}`,
  );
}

/**
 * Appends by COPY the rows the batch created (absent from the slice it loaded), when there are
 * enough of them; returns the rows still to upsert.
 */
async function copyCreated<T extends { created?: boolean }>(
  client: SqlClient,
  table: string,
  columns: string,
  rows: readonly T[],
  copyLine: (row: T) => string,
): Promise<readonly T[]> {
  const created = rows.filter((row) => row.created === true);
  if (!copyApplies(client, created)) return rows;
  await copyInto(client, table, columns, created, copyLine);
  return rows.filter((row) => row.created !== true);
}

function copyApplies(client: SqlClient, rows: readonly unknown[]): client is Client {
  return rows.length >= COPY_MIN_ROWS && client instanceof Client;
}

/** Appends `rows` to `table` with COPY FROM STDIN (text format) on the transaction's connection. */
async function copyInto<T>(
  client: Client,
  table: string,
  columns: string,
  rows: readonly T[],
  line: (row: T) => string,
): Promise<void> {
  const stream = client.query(copyFrom(`COPY ${table} (${columns}) FROM STDIN`));
  const copied = new Promise<void>((resolve, reject) => {
    stream.on('finish', resolve);
    stream.on('error', reject);
  });
  // A batch's COPY text is megabytes: written in pieces, never as one string (text-pieces.ts).
  const pieces = new TextPieces((piece) => stream.write(piece));
  for (const row of rows) pieces.add(line(row));
  pieces.finish();
  stream.end();
  await copied;
}

/** One delta per library: an upsert may not touch the same row twice. */
function mergeDeltas(deltas: readonly LibraryDelta[]): LibraryDelta[] {
  const byLibrary = new Map<string, LibraryDelta>();
  for (const delta of deltas) {
    const seen = byLibrary.get(delta.libraryId);
    if (seen === undefined) {
      byLibrary.set(delta.libraryId, { ...delta });
      continue;
    }
    seen.partition = delta.partition;
    seen.operations += delta.operations;
    seen.rejected += delta.rejected;
    if (delta.firstOffset < seen.firstOffset) seen.firstOffset = delta.firstOffset;
    if (delta.lastOffset > seen.lastOffset) seen.lastOffset = delta.lastOffset;
  }
  return [...byLibrary.values()];
}
