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
    const visible = `COALESCE(${declared} AND NOT i.deleted AND NOT g.deleted, false)`;
    // A rebuild's correction (record_corrections, relation_corrections) counts as a change at its
    // change_offset: the second branch of each kind. A row also changed by an op in the same
    // window is then sent twice, both times with its state now; sparing that would cost every
    // window an anti-join.
    this.sql = `
      SELECT x.* FROM (
        SELECT c.updated_offset AS off, 0 AS kind, c.record_id::text AS k1, ''::text AS k2,
               ''::text AS k3, c.model, c.deleted, NULL::boolean AS visible, c.data
          FROM records c
         WHERE ${inWindow('c')}
        UNION ALL
        SELECT GREATEST(COALESCE(c.updated_offset, -1), f.fixed), 0, f.record_id::text, '', '',
               COALESCE(c.model, f.model), COALESCE(c.deleted, true), NULL, c.data
          FROM (SELECT f.record_id, max(f.change_offset) AS fixed, max(f.model) AS model
                  FROM record_corrections f WHERE ${inWindow('f', 'change_offset')}
                 GROUP BY f.record_id) f
          LEFT JOIN records c ON c.library_id = $1 AND c.record_id = f.record_id
        UNION ALL
        SELECT GREATEST(r.updated_offset, COALESCE(i.updated_offset, -1),
                        COALESCE(g.updated_offset, -1)) AS off,
               1, r.relation, r.item_id::text, r.group_id::text, NULL, NULL, ${visible}, r.data
          FROM (SELECT t.relation, t.item_id, t.group_id FROM relations t WHERE ${inWindow('t')}
                UNION
                SELECT t.relation, t.item_id, t.group_id FROM records c
                  JOIN relations t ON t.library_id = c.library_id AND t.item_id = c.record_id
                 WHERE ${inWindow('c')}
                UNION
                SELECT t.relation, t.item_id, t.group_id FROM records c
                  JOIN relations t ON t.library_id = c.library_id AND t.group_id = c.record_id
                 WHERE ${inWindow('c')}) k
          JOIN relations r ON r.library_id = $1 AND r.relation = k.relation
                          AND r.item_id = k.item_id AND r.group_id = k.group_id
          LEFT JOIN records i ON i.library_id = r.library_id AND i.record_id = r.item_id
          LEFT JOIN records g ON g.library_id = r.library_id AND g.record_id = r.group_id
        UNION ALL
        SELECT GREATEST(COALESCE(r.updated_offset, -1), COALESCE(i.updated_offset, -1),
                        COALESCE(g.updated_offset, -1), f.fixed),
               1, f.relation, f.item_id::text, f.group_id::text, NULL, NULL, ${visible}, r.data
          FROM (SELECT f.relation, f.item_id, f.group_id, max(f.change_offset) AS fixed
                  FROM relation_corrections f WHERE ${inWindow('f', 'change_offset')}
                 GROUP BY f.relation, f.item_id, f.group_id) f
          LEFT JOIN relations r ON r.library_id = $1 AND r.relation = f.relation
                               AND r.item_id = f.item_id AND r.group_id = f.group_id
          LEFT JOIN records i ON i.library_id = $1 AND i.record_id = f.item_id
          LEFT JOIN records g ON g.library_id = $1 AND g.record_id = f.group_id
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
