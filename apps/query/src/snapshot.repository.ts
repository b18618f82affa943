import { Inject, Injectable } from '@nestjs/common';
import type { PoolClient } from 'pg';
import type { QueryConfig } from './query.config';
import { QueryDatabase } from './query-database.service';
import { QUERY_CONFIG } from './query.tokens';
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

interface RecordRow {
  record_id: string;
  model: string;
  owner: string | null;
  deleted: boolean;
  data: Record<string, unknown>;
  clocks: Record<string, StoredClock>;
}

interface RelationRow {
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

  constructor(
    @Inject(QUERY_CONFIG) private readonly config: QueryConfig,
    private readonly database: QueryDatabase,
  ) {
    const declared = declaredRelationsCondition(config.schema);
    // Over LEFT JOINs: a missing item or group leaves i/g null, hence not visible.
    this.visibleRelation = `COALESCE(${declared} AND NOT i.deleted AND NOT g.deleted, false)`;
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
      return new OpenSnapshot(client, header, this.config, this.visibleRelation);
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release();
      throw error;
    }
  }
}

export class OpenSnapshot {
  private released = false;

  constructor(
    private readonly client: PoolClient,
    readonly header: SnapshotHeader,
    private readonly config: QueryConfig,
    private readonly visibleRelation: string,
  ) {}

  /** Records by id, then relations by key, then (full view) pending ops by offset. */
  async *lines(): AsyncGenerator<SnapshotLine[]> {
    const full = this.header.view === 'full';
    const libraryId = this.header.libraryId;
    let afterRecord: string | null = null;
    for (;;) {
      const { rows }: { rows: RecordRow[] } = await this.client.query<RecordRow>(
        `SELECT record_id, model, owner, deleted, data, clocks FROM records
          WHERE library_id = $1 ${full ? '' : 'AND NOT deleted'}
            AND ($2::uuid IS NULL OR record_id > $2::uuid)
          ORDER BY record_id LIMIT $3`,
        [libraryId, afterRecord, SNAPSHOT_BATCH],
      );
      if (rows.length === 0) break;
      yield rows.map((row) => this.recordLine(row, full));
      afterRecord = rows[rows.length - 1].record_id;
      if (rows.length < SNAPSHOT_BATCH) break;
    }
    let afterRelation: [string, string, string] | null = null;
    for (;;) {
      const params: unknown[] = [libraryId, SNAPSHOT_BATCH];
      let keyset = '';
      if (afterRelation !== null) {
        params.push(...afterRelation);
        keyset = 'AND (r.relation, r.item_id, r.group_id) > ($3, $4::uuid, $5::uuid)';
      }
      const { rows }: { rows: RelationRow[] } = await this.client.query<RelationRow>(
        `SELECT r.relation, r.item_id, r.group_id, r.present, r.presence_clock, r.data, r.clocks,
                ${this.visibleRelation} AS visible
           FROM relations r
           LEFT JOIN records i ON i.library_id = r.library_id AND i.record_id = r.item_id
           LEFT JOIN records g ON g.library_id = r.library_id AND g.record_id = r.group_id
          WHERE r.library_id = $1 ${keyset} ${full ? '' : `AND ${this.visibleRelation}`}
          ORDER BY r.relation, r.item_id, r.group_id LIMIT $2`,
        params,
      );
      if (rows.length === 0) break;
      yield rows.map((row) => this.relationLine(row, full));
      const last = rows[rows.length - 1];
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
      yield rows.map((row) => ({
        type: 'pending',
        offset: String(row.log_offset),
        operation: row.operation,
      }));
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

  private recordLine(row: RecordRow, full: boolean): SnapshotRecordLine {
    const data = fillFields(this.config.schema.model(row.model)?.fieldNames, row.data);
    const line: SnapshotRecordLine = { type: 'record', id: row.record_id, model: row.model, data };
    if (full) {
      line.deleted = row.deleted;
      line.owner = row.owner;
      line.clocks = row.clocks;
    }
    return line;
  }

  private relationLine(row: RelationRow, full: boolean): SnapshotRelationLine {
    const line: SnapshotRelationLine = {
      type: 'relation',
      relation: row.relation,
      item: row.item_id,
      group: row.group_id,
      data: fillFields(this.config.schema.relation(row.relation)?.fieldNames, row.data),
    };
    if (full) {
      line.visible = row.visible;
      line.present = row.present;
      line.presenceClock = row.presence_clock;
      line.clocks = row.clocks;
    }
    return line;
  }
}
