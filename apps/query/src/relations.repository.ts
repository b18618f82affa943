import { Inject, Injectable } from '@nestjs/common';
import { itemsArraySql, relationItemSql } from './api-items.sql';
import { type RelationCursorKey, relationCursor } from './cursor';
import type { QueryConfig } from './query.config';
import { QueryDatabase, type SqlReader } from './query-database.service';
import { QUERY_CONFIG } from './query.tokens';
import type { RelationDto } from './query.dto';
import { VISIBLE_RELATION_JOINS, declaredRelationsCondition } from './visible-relations.sql';
import { type Page, parseItems, toPage } from './views';

export interface RelationFilter {
  relation?: string;
  item?: string;
  group?: string;
}

@Injectable()
export class RelationsRepository {
  private readonly visible: string;
  /** The relation over `relations r` as its item's JSON text (api-items.sql.ts). */
  private readonly item: string;
  /** Page statements by filter combination (a bounded set: named prepared statements). */
  private readonly statements = new Map<string, string>();

  constructor(
    @Inject(QUERY_CONFIG) config: QueryConfig,
    private readonly database: QueryDatabase,
  ) {
    this.visible = declaredRelationsCondition(config.schema);
    this.item = relationItemSql(config.schema);
  }

  /** Visible relations ordered by (relation, item, group): the primary key order, keyset on it. */
  async page(
    libraryId: string,
    filter: RelationFilter,
    after: RelationCursorKey | undefined,
    limit: number,
    reader: SqlReader = this.database,
  ): Promise<Page<RelationDto>> {
    const params: unknown[] = [libraryId, limit + 1];
    const where = ['r.library_id = $1', this.visible];
    const add = (sql: (ref: string) => string, ...values: unknown[]): void => {
      const refs = values.map((value) => `$${params.push(value)}`);
      where.push(sql(refs.join(', ')));
    };
    if (filter.relation !== undefined) add((ref) => `r.relation = ${ref}`, filter.relation);
    if (filter.item !== undefined) add((ref) => `r.item_id = ${ref}`, filter.item);
    if (filter.group !== undefined) add((ref) => `r.group_id = ${ref}`, filter.group);
    if (after !== undefined) {
      add(
        (refs) => `(r.relation, r.item_id, r.group_id) > (${refs})`,
        after.relation,
        after.item,
        after.group,
      );
    }
    const conditions = where.join(' AND ');
    let sql = this.statements.get(conditions);
    if (sql === undefined) {
      sql = itemsArraySql(
        `SELECT r.relation, r.item_id, r.group_id, ${this.item} AS item
           FROM relations r ${VISIBLE_RELATION_JOINS}
          WHERE ${conditions}
          ORDER BY r.relation, r.item_id, r.group_id
          LIMIT $2`,
        's.relation, s.item_id, s.group_id',
      );
      this.statements.set(conditions, sql);
    }
    const rows = await reader.query<{ items: string | null }>(sql, params);
    return toPage(
      parseItems<RelationDto>(rows[0].items),
      limit,
      (item) => item,
      (item) => relationCursor.encode(item),
    );
  }
}
