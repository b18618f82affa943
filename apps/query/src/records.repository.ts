import { Inject, Injectable } from '@nestjs/common';
import { itemsArraySql, recordItemSql } from './api-items.sql';
import { recordCursor } from './cursor';
import type { QueryConfig } from './query.config';
import { QueryDatabase, type SqlReader } from './query-database.service';
import { QUERY_CONFIG } from './query.tokens';
import type { FieldWriteDto, RecordDto } from './query.dto';
import { type Page, parseItems, toPage } from './views';

@Injectable()
export class RecordsRepository {
  /** The page statement by filters present: [none, model, after, model and after]. */
  private readonly pageSql: readonly string[];
  private readonly oneSql: string;
  /**
   * A visible record with, per written field, the op whose write it holds (explain=true). The
   * field clocks are op identities (node, hybrid), unique in the library's log, so the offset
   * comes from the identity index; record and writes are read in one statement.
   */
  private readonly explainedSql: string;

  constructor(
    @Inject(QUERY_CONFIG) config: QueryConfig,
    private readonly database: QueryDatabase,
  ) {
    const item = recordItemSql(config.schema);
    this.oneSql = `SELECT ${item} AS item FROM records r
        WHERE r.library_id = $1 AND r.record_id = $2 AND NOT r.deleted`;
    this.explainedSql = `SELECT ${item} AS item,
              COALESCE((SELECT jsonb_object_agg(w.key, jsonb_build_object(
                          'node', o.node, 'hybrid', o.hybrid::text, 'offset', o.log_offset::text))
                          FROM jsonb_each(r.clocks) w
                          JOIN operations o ON o.library_id = r.library_id
                           AND o.node = (w.value->>1)::uuid AND o.hybrid = (w.value->>0)::numeric),
                       '{}') AS writes
         FROM records r
        WHERE r.library_id = $1 AND r.record_id = $2 AND NOT r.deleted`;
    this.pageSql = [0, 1, 2, 3].map((filters) => {
      // Parameters: $1 library, $2 limit, then the model and the cursor when present.
      let where = 'r.library_id = $1 AND NOT r.deleted';
      let next = 3;
      if (filters & 1) where += ` AND r.model = $${next++}`;
      if (filters & 2) where += ` AND r.record_id > $${next}`;
      return itemsArraySql(
        `SELECT r.record_id, ${item} AS item FROM records r
          WHERE ${where} ORDER BY r.record_id LIMIT $2`,
        's.record_id',
      );
    });
  }

  /** Visible records by id; served by records_visible(_by_model), keyset on record_id. */
  async page(
    libraryId: string,
    model: string | undefined,
    after: string | undefined,
    limit: number,
    reader: SqlReader = this.database,
  ): Promise<Page<RecordDto>> {
    const params: unknown[] = [libraryId, limit + 1];
    if (model !== undefined) params.push(model);
    if (after !== undefined) params.push(after);
    const sql = this.pageSql[(model === undefined ? 0 : 1) + (after === undefined ? 0 : 2)];
    const rows = await reader.query<{ items: string | null }>(sql, params);
    return toPage(
      parseItems<RecordDto>(rows[0].items),
      limit,
      (item) => item,
      (item) => recordCursor.encode(item.id),
    );
  }

  async findVisible(libraryId: string, recordId: string): Promise<RecordDto | undefined> {
    const rows = await this.database.query<{ item: string }>(this.oneSql, [libraryId, recordId]);
    return rows[0] ? (JSON.parse(rows[0].item) as RecordDto) : undefined;
  }

  /** The record with `writes` (explain=true), see explainedSql. */
  async findExplained(libraryId: string, recordId: string): Promise<RecordDto | undefined> {
    const rows = await this.database.query<{ item: string; writes: Record<string, FieldWriteDto> }>(
      this.explainedSql,
      [libraryId, recordId],
    );
    const row = rows[0];
    return row ? { ...(JSON.parse(row.item) as RecordDto), writes: row.writes } : undefined;
  }
}
