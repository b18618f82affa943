import { Inject, Injectable } from '@nestjs/common';
import { STORED_OFFSET_SQL } from '@sync/persistence';
import type { QueryConfig } from './query.config';
import { QueryDatabase } from './query-database.service';
import { QUERY_CONFIG } from './query.tokens';
import { declaredRelationsCondition } from './visible-relations.sql';
import { fillFields } from './views';

/** One changed row: its state now, at the offset of the last op that changed it. */
export type Change =
  | {
      type: 'record';
      offset: string;
      id: string;
      model: string;
      deleted: boolean;
      /** Every declared field; null when deleted. */
      data: Record<string, unknown> | null;
    }
  | {
      type: 'relation';
      offset: string;
      relation: string;
      item: string;
      group: string;
      /** Rule L3 now: present and both ends visible records of the declared models. */
      visible: boolean;
      /** Every declared field; null when not visible. */
      data: Record<string, unknown> | null;
    };

/** Position inside a window: changes are ordered by (offset, kind, key). */
export interface ChangeKey {
  offset: bigint;
  kind: number;
  k1: string;
  k2: string;
  k3: string;
}

interface ChangeRow {
  off: string;
  kind: number;
  k1: string;
  k2: string;
  k3: string;
  model: string | null;
  deleted: boolean | null;
  visible: boolean | null;
  data: Record<string, unknown> | null;
}

/**
 * Rows of a library changed in a window of partition offsets (after, upper]. A record's offset
 * is its updated_offset. A relation's visibility also depends on its item and group (L3), so a
 * relation counts as changed at the greatest updated_offset of itself, its item and its group:
 * deleting a tag shows up as its links turning invisible. Offsets only grow, so a row that
 * changes again while a window is read moves past `upper` and is reported in a later window,
 * with its newer state. A row a rebuild corrected also counts as changed at its correction's
 * offset (taken past every cursor of before the rebuild); one the rebuild removed is read as a
 * deleted record or an invisible relation.
 */
@Injectable()
export class ChangesRepository {
  private readonly sql: string;

  constructor(
    @Inject(QUERY_CONFIG) private readonly config: QueryConfig,
    private readonly database: QueryDatabase,
  ) {
    const declared = declaredRelationsCondition(config.schema);
    const inWindow = (alias: string, column = 'updated_offset') =>
      `${alias}.library_id = $1 AND ${alias}.${column} > $2 AND ${alias}.${column} <= $3`;
    // A correction of a rebuild (record_corrections, relation_corrections) counts as a change
    // at its change_offset; `fixed` is the greatest one in the window, -1 without any.
    this.sql = `
      SELECT x.* FROM (
        SELECT GREATEST(COALESCE(c.updated_offset, -1), k.fixed) AS off, 0 AS kind,
               k.record_id::text AS k1, ''::text AS k2, ''::text AS k3,
               COALESCE(c.model, k.model) AS model, COALESCE(c.deleted, true) AS deleted,
               NULL::boolean AS visible, c.data
          FROM (SELECT t.record_id, max(t.fixed) AS fixed, max(t.model) AS model
                  FROM (SELECT c.record_id, -1::bigint AS fixed, NULL::text AS model
                          FROM records c WHERE ${inWindow('c')}
                        UNION ALL
                        SELECT f.record_id, f.change_offset, f.model
                          FROM record_corrections f WHERE ${inWindow('f', 'change_offset')}) t
                 GROUP BY t.record_id) k
          LEFT JOIN records c ON c.library_id = $1 AND c.record_id = k.record_id
        UNION ALL
        SELECT GREATEST(COALESCE(r.updated_offset, -1), COALESCE(i.updated_offset, -1),
                        COALESCE(g.updated_offset, -1), k.fixed) AS off,
               1, k.relation, k.item_id::text, k.group_id::text, NULL, NULL,
               COALESCE(${declared} AND NOT i.deleted AND NOT g.deleted, false), r.data
          FROM (SELECT t.relation, t.item_id, t.group_id, max(t.fixed) AS fixed
                  FROM (SELECT t.relation, t.item_id, t.group_id, -1::bigint AS fixed
                          FROM relations t WHERE ${inWindow('t')}
                        UNION ALL
                        SELECT t.relation, t.item_id, t.group_id, -1 FROM records c
                          JOIN relations t ON t.library_id = c.library_id AND t.item_id = c.record_id
                         WHERE ${inWindow('c')}
                        UNION ALL
                        SELECT t.relation, t.item_id, t.group_id, -1 FROM records c
                          JOIN relations t ON t.library_id = c.library_id AND t.group_id = c.record_id
                         WHERE ${inWindow('c')}
                        UNION ALL
                        SELECT f.relation, f.item_id, f.group_id, f.change_offset
                          FROM relation_corrections f WHERE ${inWindow('f', 'change_offset')}) t
                 GROUP BY t.relation, t.item_id, t.group_id) k
          LEFT JOIN relations r ON r.library_id = $1 AND r.relation = k.relation
                               AND r.item_id = k.item_id AND r.group_id = k.group_id
          LEFT JOIN records i ON i.library_id = $1 AND i.record_id = k.item_id
          LEFT JOIN records g ON g.library_id = $1 AND g.record_id = k.group_id
      ) x
      WHERE x.off <= $3
        AND (x.off, x.kind, x.k1 COLLATE "C", x.k2 COLLATE "C", x.k3 COLLATE "C")
          > ($4::bigint, $5::int, $6::text COLLATE "C", $7::text COLLATE "C", $8::text COLLATE "C")
      ORDER BY x.off, x.kind, x.k1 COLLATE "C", x.k2 COLLATE "C", x.k3 COLLATE "C"
      LIMIT $9`;
  }

  /** The partition's last applied offset (next_offset - 1); -1 when nothing is applied. */
  async appliedOffset(partition: number): Promise<bigint> {
    const rows = await this.database.query<{ next_offset: string }>(STORED_OFFSET_SQL, [
      this.config.kafka.operationsTopic,
      partition,
    ]);
    return rows[0] ? BigInt(rows[0].next_offset) - 1n : -1n;
  }

  /** First key of a window: before every change of offset `after + 1`. */
  static start(after: bigint): ChangeKey {
    return { offset: after, kind: 9, k1: '', k2: '', k3: '' };
  }

  /** Up to `limit` changes in (after, upper] past `from`, in (offset, kind, key) order. */
  async page(
    libraryId: string,
    after: bigint,
    upper: bigint,
    from: ChangeKey,
    limit: number,
  ): Promise<{ changes: Change[]; last: ChangeKey | undefined }> {
    const rows = await this.database.query<ChangeRow>(this.sql, [
      libraryId,
      after.toString(),
      upper.toString(),
      from.offset.toString(),
      from.kind,
      from.k1,
      from.k2,
      from.k3,
      limit,
    ]);
    const changes = rows.map((row) => this.change(row));
    const tail = rows[rows.length - 1];
    const last = tail && {
      offset: BigInt(tail.off),
      kind: tail.kind,
      k1: tail.k1,
      k2: tail.k2,
      k3: tail.k3,
    };
    return { changes, last };
  }

  private change(row: ChangeRow): Change {
    const offset = String(row.off);
    if (row.kind === 0) {
      const model = row.model ?? '';
      const deleted = row.deleted === true;
      return {
        type: 'record',
        offset,
        id: row.k1,
        model,
        deleted,
        data: deleted ? null : fillFields(this.config.schema.model(model)?.fieldNames, row.data),
      };
    }
    const visible = row.visible === true;
    return {
      type: 'relation',
      offset,
      relation: row.k1,
      item: row.k2,
      group: row.k3,
      visible,
      data: visible ? fillFields(this.config.schema.relation(row.k1)?.fieldNames, row.data) : null,
    };
  }
}
