import { Inject, Injectable } from '@nestjs/common';
import { type RelationCursorKey, relationCursor } from './cursor';
import type { QueryConfig } from './query.config';
import { QueryDatabase, type SqlReader } from './query-database.service';
import { QUERY_CONFIG } from './query.tokens';
import type { RelationDto } from './query.dto';
import { VISIBLE_RELATION_JOINS, declaredRelationsCondition } from './visible-relations.sql';
import { type Page, fillFields, toPage } from './views';

export interface RelationFilter {
  relation?: string;
  item?: string;
  group?: string;
}

interface RelationRow {
  relation: string;
  item_id: string;
  group_id: string;
  data: Record<string, unknown> | null;
}

@Injectable()
export class RelationsRepository {
  private readonly visible: string;

  constructor(
    @Inject(QUERY_CONFIG) private readonly config: QueryConfig,
    private readonly database: QueryDatabase,
  ) {
    this.visible = declaredRelationsCondition(config.schema);
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
    const rows = await reader.query<RelationRow>(
      `SELECT r.relation, r.item_id, r.group_id, r.data
         FROM relations r ${VISIBLE_RELATION_JOINS}
        WHERE ${where.join(' AND ')}
        ORDER BY r.relation, r.item_id, r.group_id
        LIMIT $2`,
      params,
    );
    return toPage(
      rows,
      limit,
      (row) => ({
        relation: row.relation,
        item: row.item_id,
        group: row.group_id,
        data: fillFields(this.config.schema.relation(row.relation)?.fieldNames, row.data),
      }),
      (row) =>
        relationCursor.encode({ relation: row.relation, item: row.item_id, group: row.group_id }),
    );
  }
}
