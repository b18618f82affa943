import { Inject, Injectable } from '@nestjs/common';
import type { PoolClient } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import type { StoredClock, StoredRecordColumns, StoredRelationColumns } from '@sync/persistence';
import type { Schema, SnapshotClocks } from '@sync/protocol';
import type { QueryConfig } from './query.config';
import { QueryDatabase } from './query-database.service';
import { QUERY_CONFIG } from './query.tokens';
import { copyLines } from './copy-lines';
import { recordLineSql, relationLineSql } from './snapshot-lines.sql';
import { declaredRelationsCondition } from './visible-relations.sql';
import { fillFields } from './views';

/** Pending ops per round trip while streaming. */
export const SNAPSHOT_BATCH = 1000;

export type { StoredClock } from '@sync/persistence';
export type { SnapshotClocks } from '@sync/protocol';

export interface SnapshotHeader {
  type: 'snapshot';
  libraryId: string;
  partition: number;
  /** The snapshot holds every op of the library up to this partition offset; null: none applied. */
  offset: string | null;
  /** Greatest hybrid of the library's accepted ops (for the reader's HLC receive rule). */
  clock: string | null;
  /** `full`: everything a node needs to keep merging; `visible`: only what the query API shows. */
  view: SnapshotView;
}

export type SnapshotView = 'full' | 'visible';

/**
 * `key`: records by id, relations by key. `none`: each kind in the order Postgres reads it, with
 * no sort before the first line (a node that bootstraps keeps rows by key itself): at a million
 * records the sorted snapshot sends nothing for its first ~9 s.
 */
export type SnapshotOrder = 'key' | 'none';

export interface SnapshotRecordLine {
  type: 'record';
  id: string;
  model: string;
  data: Record<string, unknown>;
  /** full view only: deleted records stay (R1, R4, R5 hold for them), with owner and field clocks. */
  deleted?: boolean;
  owner?: string | null;
  clocks?: Record<string, StoredClock> | string;
}

export interface SnapshotRelationLine {
  type: 'relation';
  relation: string;
  item: string;
  group: string;
  data: Record<string, unknown>;
  /** full view only: rows that are not visible (L1, L3) stay, with their presence and field clocks. */
  visible?: boolean;
  present?: boolean;
  presenceClock?: StoredClock;
  clocks?: Record<string, StoredClock>;
}

export interface SnapshotPendingLine {
  type: 'pending';
  offset: string;
  operation: Record<string, unknown>;
}

export type SnapshotLine = SnapshotRecordLine | SnapshotRelationLine | SnapshotPendingLine;

/** Consecutive lines of one type, as NDJSON (each line ends with a newline). */
export interface SnapshotChunk {
  type: SnapshotLine['type'];
  count: number;
  text: string | Buffer;
}

/** A records row as the snapshot reads it. */
export type StoredSnapshotRecord = StoredRecordColumns & { compact_clocks: string | null };

/** A relation row with its visibility (L1, L3) computed by the snapshot query. */
export type RelationRow = StoredRelationColumns & { visible: boolean };

interface PendingRow {
  log_offset: string;
  operation: Record<string, unknown>;
}

/**
 * A library's state and the offset it reflects, read in ONE repeatable-read, read-only
 * transaction: the projector writes rows and the partition's next offset in one transaction,
 * so every op up to `offset` is in the rows and none after it. Rows are read in keyset batches
 * inside that transaction (same snapshot), so a large library never sits in memory.
 */
@Injectable()
export class SnapshotRepository {
  private readonly visibleRelation: string;
  private readonly sql: SnapshotSql;

  constructor(
    @Inject(QUERY_CONFIG) private readonly config: QueryConfig,
    private readonly database: QueryDatabase,
  ) {
    const declared = declaredRelationsCondition(config.schema);
    // Over LEFT JOINs: a missing item or group leaves i/g null, hence not visible.
    this.visibleRelation = `COALESCE(${declared} AND NOT i.deleted AND NOT g.deleted, false)`;
    const views = (full: boolean, clocks: SnapshotClocks) => ({
      key: snapshotSql(config, this.visibleRelation, full, true, clocks),
      none: snapshotSql(config, this.visibleRelation, full, false, clocks),
    });
    this.sql = {
      full: { fields: views(true, 'fields'), compact: views(true, 'compact') },
      // Without clocks either way.
      visible: { fields: views(false, 'fields'), compact: views(false, 'fields') },
    };
  }

  /**
   * Opens the snapshot transaction and reads the header; `lines` then yields batches of rows.
   * Call `close` in every case (it ends the transaction and releases the connection).
   */
  async open(
    libraryId: string,
    partition: number,
    view: SnapshotView,
    order: SnapshotOrder,
    clocks: SnapshotClocks,
  ): Promise<OpenSnapshot> {
    const client = await this.database.connect();
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      // A snapshot's COPY lasts as long as its data and its reader (a million records take
      // longer than any per-statement bound), so the read pool's statement_timeout is lifted
      // for this transaction only; the header query below still answers before the first line.
      await client.query('SET LOCAL statement_timeout = 0');
      const head = await client.query<{ next_offset: string | null; clock: string | null }>(
        SNAPSHOT_HEAD_SQL,
        [this.config.kafka.operationsTopic, partition, libraryId],
      );
      const next = head.rows[0].next_offset === null ? 0n : BigInt(head.rows[0].next_offset);
      const header: SnapshotHeader = {
        type: 'snapshot',
        libraryId,
        partition,
        offset: next > 0n ? (next - 1n).toString() : null,
        clock: head.rows[0].clock,
        view,
      };
      const sql = this.sql[view][clocks][order];
      return new OpenSnapshot(client, header, this.config.schema, sql, clocks);
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release();
      throw error;
    }
  }
}

/** The row statements of a snapshot view, built once from the schema; `$library` is replaced. */
interface ViewSql {
  records: string;
  relations: string;
}
type SnapshotSql = Record<SnapshotView, Record<SnapshotClocks, Record<SnapshotOrder, ViewSql>>>;

/**
 * The partition's next offset and the library's clock: the greatest hybrid of its logged ops.
 * `max(hybrid) WHERE library_id` reads every op of the library (a second of parallel scan at
 * 3.3M ops, before the first line). The greatest per node is the last entry of that node in
 * operations_identity (library_id, node, hybrid), so the nodes are walked through that index,
 * one probe each (a library has few): 15 ms there (docs/BENCHMARKS.md).
 */
const SNAPSHOT_HEAD_SQL = `
  WITH RECURSIVE nodes(node) AS (
    (SELECT node FROM operations WHERE library_id = $3 ORDER BY node LIMIT 1)
    UNION ALL
    SELECT (SELECT o.node FROM operations o
             WHERE o.library_id = $3 AND o.node > nodes.node ORDER BY o.node LIMIT 1)
      FROM nodes WHERE nodes.node IS NOT NULL
  )
  SELECT (SELECT next_offset FROM partition_offsets WHERE topic = $1 AND partition = $2)
           AS next_offset,
         (SELECT max((SELECT max(o.hybrid) FROM operations o
                       WHERE o.library_id = $3 AND o.node = nodes.node))::text
            FROM nodes WHERE nodes.node IS NOT NULL) AS clock`;

const LIBRARY = '$library';

/**
 * One COPY per table, rows in key order when `ordered`, two columns: the line built in SQL, and
 * (only where that is NULL) the row as JSON for the JS path. COPY takes no bind parameters: the
 * library id is inlined, and it is always a parsed UUID.
 */
function snapshotSql(
  config: QueryConfig,
  visibleRelation: string,
  full: boolean,
  ordered: boolean,
  clocks: SnapshotClocks,
): ViewSql {
  const schema = config.schema;
  const copy = (select: string) => `COPY (${select}) TO STDOUT (FORMAT binary)`;
  return {
    records: copy(`
      SELECT l.line,
             CASE WHEN l.line IS NULL THEN json_build_object('record_id', r.record_id,
               'model', r.model, 'owner', r.owner, 'deleted', r.deleted, 'data', r.data,
               'clocks', r.clocks, 'compact_clocks', r.compact_clocks)::text END
        FROM records r
        CROSS JOIN LATERAL (SELECT ${recordLineSql(schema, full, clocks)} AS line) l
       WHERE r.library_id = ${LIBRARY} ${full ? '' : 'AND NOT r.deleted'}
       ${ordered ? 'ORDER BY r.record_id' : ''}`),
    relations: copy(`
      SELECT l.line,
             CASE WHEN l.line IS NULL THEN json_build_object('relation', r.relation,
               'item_id', r.item_id, 'group_id', r.group_id, 'present', r.present,
               'presence_clock', r.presence_clock, 'data', r.data, 'clocks', r.clocks,
               'visible', ${visibleRelation})::text END
        FROM relations r
        LEFT JOIN records i ON i.library_id = r.library_id AND i.record_id = r.item_id
        LEFT JOIN records g ON g.library_id = r.library_id AND g.record_id = r.group_id
        CROSS JOIN LATERAL (SELECT ${relationLineSql(schema, full, visibleRelation)} AS line) l
       WHERE r.library_id = ${LIBRARY} ${full ? '' : `AND ${visibleRelation}`}
       ${ordered ? 'ORDER BY r.relation, r.item_id, r.group_id' : ''}`),
  };
}

export class OpenSnapshot {
  private released = false;
  /** A COPY was left unfinished: the connection is mid-protocol and must not be reused. */
  private broken = false;

  constructor(
    private readonly client: PoolClient,
    readonly header: SnapshotHeader,
    private readonly schema: Schema,
    private readonly sql: ViewSql,
    private readonly clocks: SnapshotClocks,
  ) {}

  /**
   * Records (by id), then relations (by key), then (full view) pending ops by offset, as NDJSON in
   * chunks. Record and relation lines are printed by Postgres (snapshot-lines.sql.ts) and
   * streamed by COPY as bytes, so the service neither parses nor builds them, and the COPY
   * stream's backpressure paces Postgres to the reader. JS builds only the lines SQL cannot
   * print exactly, and the pending ops (few, printed as the engine's JSON).
   */
  async *chunks(): AsyncGenerator<SnapshotChunk> {
    const full = this.header.view === 'full';
    const library = `'${this.header.libraryId}'`;
    yield* this.copy('record', this.sql.records.replaceAll(LIBRARY, library), (json) =>
      JSON.stringify(
        recordLine(this.schema, JSON.parse(json) as StoredSnapshotRecord, full, this.clocks),
      ),
    );
    yield* this.copy('relation', this.sql.relations.replaceAll(LIBRARY, library), (json) =>
      JSON.stringify(relationLine(this.schema, JSON.parse(json) as RelationRow, full)),
    );
    if (!full) return;
    let afterPending = -1n;
    for (;;) {
      const { rows }: { rows: PendingRow[] } = await this.client.query<PendingRow>(
        `SELECT log_offset, operation FROM pending_operations
          WHERE library_id = $1 AND log_offset > $2 ORDER BY log_offset LIMIT $3`,
        [this.header.libraryId, afterPending.toString(), SNAPSHOT_BATCH],
      );
      if (rows.length === 0) break;
      let text = '';
      for (const row of rows) {
        const line: SnapshotPendingLine = {
          type: 'pending',
          offset: String(row.log_offset),
          operation: row.operation,
        };
        text += `${JSON.stringify(line)}\n`;
      }
      yield { type: 'pending', count: rows.length, text };
      afterPending = BigInt(rows[rows.length - 1].log_offset);
      if (rows.length < SNAPSHOT_BATCH) break;
    }
  }

  private async *copy(
    type: SnapshotChunk['type'],
    sql: string,
    fallback: (json: string) => string,
  ): AsyncGenerator<SnapshotChunk> {
    this.broken = true;
    const stream = this.client.query(copyTo(sql)) as AsyncIterable<Buffer>;
    for await (const { text, count } of copyLines(stream, fallback)) yield { type, count, text };
    this.broken = false;
  }

  async close(): Promise<void> {
    if (this.released) return;
    this.released = true;
    try {
      if (this.broken) throw new Error('snapshot COPY left unfinished');
      await this.client.query('ROLLBACK');
      this.client.release();
    } catch (error) {
      // A connection in an unknown state must not go back to the pool.
      this.client.release(error instanceof Error ? error : true);
    }
  }
}

/** The record line the JS path builds from a stored row (snapshot-lines.sql.ts mirrors it). */
export function recordLine(
  schema: Schema,
  row: StoredSnapshotRecord,
  full: boolean,
  clocks: SnapshotClocks,
): SnapshotRecordLine {
  const data = fillFields(schema.model(row.model)?.fieldNames, row.data);
  const line: SnapshotRecordLine = { type: 'record', id: row.record_id, model: row.model, data };
  if (full) {
    line.deleted = row.deleted;
    line.owner = row.owner;
    line.clocks = (clocks === 'compact' ? row.compact_clocks : null) ?? row.clocks;
  }
  return line;
}

/** The relation line the JS path builds from a stored row (snapshot-lines.sql.ts mirrors it). */
export function relationLine(
  schema: Schema,
  row: RelationRow,
  full: boolean,
): SnapshotRelationLine {
  const line: SnapshotRelationLine = {
    type: 'relation',
    relation: row.relation,
    item: row.item_id,
    group: row.group_id,
    data: fillFields(schema.relation(row.relation)?.fieldNames, row.data),
  };
  if (full) {
    line.visible = row.visible;
    line.present = row.present;
    line.presenceClock = row.presence_clock;
    line.clocks = row.clocks;
  }
  return line;
}
