import { Inject, Injectable } from '@nestjs/common';
import type { PoolClient } from 'pg';
import type { Schema } from '@sync/protocol';
import type { QueryConfig } from './query.config';
import { QueryDatabase } from './query-database.service';
import { QUERY_CONFIG } from './query.tokens';
import { recordLineSql, relationLineSql } from './snapshot-lines.sql';
import { declaredRelationsCondition } from './visible-relations.sql';
import { fillFields } from './views';

/** Rows per round trip while streaming; bounds what a snapshot holds in memory. */
export const SNAPSHOT_BATCH = 1000;

export type StoredClock = [hybrid: string, node: string];

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

export interface SnapshotRecordLine {
  type: 'record';
  id: string;
  model: string;
  data: Record<string, unknown>;
  /** full view only: deleted records stay (R1, R4, R5 hold for them), with owner and field clocks. */
  deleted?: boolean;
  owner?: string | null;
  clocks?: Record<string, StoredClock>;
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

/** Consecutive lines of one type, as NDJSON text (each line ends with a newline). */
export interface SnapshotChunk {
  type: SnapshotLine['type'];
  count: number;
  text: string;
}

/** A row as read for the snapshot: `line` is its text built in SQL, null where JS must build it. */
type Lined<T> = T & { line: string | null };

export interface RecordRow {
  record_id: string;
  model: string;
  owner: string | null;
  deleted: boolean;
  data: Record<string, unknown>;
  clocks: Record<string, StoredClock>;
}

export interface RelationRow {
  relation: string;
  item_id: string;
  group_id: string;
  present: boolean;
  presence_clock: StoredClock;
  data: Record<string, unknown>;
  clocks: Record<string, StoredClock>;
  visible: boolean;
}

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
    this.sql = {
      full: snapshotSql(config, this.visibleRelation, true),
      visible: snapshotSql(config, this.visibleRelation, false),
    };
  }

  /**
   * Opens the snapshot transaction and reads the header; `lines` then yields batches of rows.
   * Call `close` in every case (it ends the transaction and releases the connection).
   */
  async open(libraryId: string, partition: number, view: SnapshotView): Promise<OpenSnapshot> {
    const client = await this.database.connect();
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const head = await client.query<{ next_offset: string | null; clock: string | null }>(
        `SELECT (SELECT next_offset FROM partition_offsets WHERE topic = $1 AND partition = $2)
                  AS next_offset,
                (SELECT max(hybrid)::text FROM operations WHERE library_id = $3) AS clock`,
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
      return new OpenSnapshot(client, header, this.config.schema, this.sql[view]);
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release();
      throw error;
    }
  }
}

/** The three statements of a snapshot view, built once from the schema. */
interface ViewSql {
  records: string;
  relations: string;
}
type SnapshotSql = Record<SnapshotView, ViewSql>;

/**
 * Keyset batches: $1 library, $2 limit, then the last key of the previous batch (absent for
 * the first). The JS columns (data, clocks) are only sent for rows whose line SQL left null.
 */
function snapshotSql(config: QueryConfig, visibleRelation: string, full: boolean): ViewSql {
  const schema = config.schema;
  return {
    records: `
      SELECT s.record_id, s.line, s.model, s.owner, s.deleted,
             CASE WHEN s.line IS NULL THEN s.data END AS data,
             CASE WHEN s.line IS NULL THEN s.clocks END AS clocks
        FROM (SELECT r.record_id, r.model, r.owner, r.deleted, r.data, r.clocks,
                     ${recordLineSql(schema, full)} AS line
                FROM records r
               WHERE r.library_id = $1 ${full ? '' : 'AND NOT r.deleted'}
                 AND ($3::uuid IS NULL OR r.record_id > $3::uuid)
               ORDER BY r.record_id LIMIT $2) s`,
    relations: `
      SELECT s.relation, s.item_id, s.group_id, s.line, s.present, s.visible,
             CASE WHEN s.line IS NULL THEN s.presence_clock END AS presence_clock,
             CASE WHEN s.line IS NULL THEN s.data END AS data,
             CASE WHEN s.line IS NULL THEN s.clocks END AS clocks
        FROM (SELECT r.relation, r.item_id, r.group_id, r.present, r.presence_clock, r.data,
                     r.clocks, ${visibleRelation} AS visible,
                     ${relationLineSql(schema, full, visibleRelation)} AS line
                FROM relations r
                LEFT JOIN records i ON i.library_id = r.library_id AND i.record_id = r.item_id
                LEFT JOIN records g ON g.library_id = r.library_id AND g.record_id = r.group_id
               WHERE r.library_id = $1 ${full ? '' : `AND ${visibleRelation}`}
                 AND ($3::text IS NULL
                      OR (r.relation, r.item_id, r.group_id) > ($3, $4::uuid, $5::uuid))
               ORDER BY r.relation, r.item_id, r.group_id LIMIT $2) s`,
  };
}

export class OpenSnapshot {
  private released = false;

  constructor(
    private readonly client: PoolClient,
    readonly header: SnapshotHeader,
    private readonly schema: Schema,
    private readonly sql: ViewSql,
  ) {}

  /**
   * Records by id, then relations by key, then (full view) pending ops by offset, as NDJSON
   * text in batches. Record and relation lines come built by Postgres (snapshot-lines.sql.ts);
   * JS builds only the lines SQL cannot make exactly, and the pending ops (few, and printed
   * as the engine's JSON).
   */
  async *chunks(): AsyncGenerator<SnapshotChunk> {
    const full = this.header.view === 'full';
    const libraryId = this.header.libraryId;
    let afterRecord: string | null = null;
    for (;;) {
      const { rows }: { rows: Lined<RecordRow>[] } = await this.client.query<Lined<RecordRow>>(
        this.sql.records,
        [libraryId, SNAPSHOT_BATCH, afterRecord],
      );
      if (rows.length === 0) break;
      let text = '';
      for (const row of rows) {
        text += `${row.line ?? JSON.stringify(recordLine(this.schema, row, full))}\n`;
      }
      yield { type: 'record', count: rows.length, text };
      afterRecord = rows[rows.length - 1].record_id;
      if (rows.length < SNAPSHOT_BATCH) break;
    }
    let afterRelation: [string, string, string] | [null, null, null] = [null, null, null];
    for (;;) {
      const { rows }: { rows: Lined<RelationRow>[] } = await this.client.query<Lined<RelationRow>>(
        this.sql.relations,
        [libraryId, SNAPSHOT_BATCH, ...afterRelation],
      );
      if (rows.length === 0) break;
      let text = '';
      for (const row of rows) {
        text += `${row.line ?? JSON.stringify(relationLine(this.schema, row, full))}\n`;
      }
      yield { type: 'relation', count: rows.length, text };
      const last: RelationRow = rows[rows.length - 1];
      afterRelation = [last.relation, last.item_id, last.group_id];
      if (rows.length < SNAPSHOT_BATCH) break;
    }
    if (!full) return;
    let afterPending = -1n;
    for (;;) {
      const { rows }: { rows: PendingRow[] } = await this.client.query<PendingRow>(
        `SELECT log_offset, operation FROM pending_operations
          WHERE library_id = $1 AND log_offset > $2 ORDER BY log_offset LIMIT $3`,
        [libraryId, afterPending.toString(), SNAPSHOT_BATCH],
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

  async close(): Promise<void> {
    if (this.released) return;
    this.released = true;
    try {
      await this.client.query('ROLLBACK');
      this.client.release();
    } catch (error) {
      // A connection in an unknown state must not go back to the pool.
      this.client.release(error instanceof Error ? error : true);
    }
  }
}

/** The record line the JS path builds from a stored row (snapshot-lines.sql.ts mirrors it). */
export function recordLine(schema: Schema, row: RecordRow, full: boolean): SnapshotRecordLine {
  const data = fillFields(schema.model(row.model)?.fieldNames, row.data);
  const line: SnapshotRecordLine = { type: 'record', id: row.record_id, model: row.model, data };
  if (full) {
    line.deleted = row.deleted;
    line.owner = row.owner;
    line.clocks = row.clocks;
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
