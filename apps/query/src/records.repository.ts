import { Inject, Injectable } from '@nestjs/common';
import { recordCursor } from './cursor';
import type { QueryConfig } from './query.config';
import { QueryDatabase, type SqlReader } from './query-database.service';
import { QUERY_CONFIG } from './query.tokens';
import type { FieldWriteDto, RecordDto } from './query.dto';
import { type Page, fillFields, toPage } from './views';

interface RecordRow {
  record_id: string;
  model: string;
  data: Record<string, unknown> | null;
}

@Injectable()
export class RecordsRepository {
  constructor(
    @Inject(QUERY_CONFIG) private readonly config: QueryConfig,
    private readonly database: QueryDatabase,
  ) {}

  /** Visible records by id; served by records_visible(_by_model), keyset on record_id. */
  async page(
    libraryId: string,
    model: string | undefined,
    after: string | undefined,
    limit: number,
    reader: SqlReader = this.database,
  ): Promise<Page<RecordDto>> {
    const params: unknown[] = [libraryId, limit + 1];
    let where = 'library_id = $1 AND NOT deleted';
    if (model !== undefined) {
      params.push(model);
      where += ` AND model = $${params.length}`;
    }
    if (after !== undefined) {
      params.push(after);
      where += ` AND record_id > $${params.length}`;
    }
    const rows = await reader.query<RecordRow>(
      `SELECT record_id, model, data FROM records WHERE ${where} ORDER BY record_id LIMIT $2`,
      params,
    );
    return toPage(
      rows,
      limit,
      (row) => this.view(row),
      (row) => recordCursor.encode(row.record_id),
    );
  }

  async findVisible(libraryId: string, recordId: string): Promise<RecordDto | undefined> {
    const rows = await this.database.query<RecordRow>(
      `SELECT record_id, model, data FROM records
        WHERE library_id = $1 AND record_id = $2 AND NOT deleted`,
      [libraryId, recordId],
    );
    return rows[0] ? this.view(rows[0]) : undefined;
  }

  /**
   * A visible record with, per written field, the op whose write it holds (explain=true). The
   * field clocks are op identities (node, hybrid), unique in the library's log, so the offset
   * comes from the identity index; record and writes are read in one statement.
   */
  async findExplained(libraryId: string, recordId: string): Promise<RecordDto | undefined> {
    const rows = await this.database.query<RecordRow & { writes: Record<string, FieldWriteDto> }>(
      `SELECT r.record_id, r.model, r.data,
              COALESCE((SELECT jsonb_object_agg(w.key, jsonb_build_object(
                          'node', o.node, 'hybrid', o.hybrid::text, 'offset', o.log_offset::text))
                          FROM jsonb_each(r.clocks) w
                          JOIN operations o ON o.library_id = r.library_id
                           AND o.node = (w.value->>1)::uuid AND o.hybrid = (w.value->>0)::numeric),
                       '{}') AS writes
         FROM records r
        WHERE r.library_id = $1 AND r.record_id = $2 AND NOT r.deleted`,
      [libraryId, recordId],
    );
    return rows[0] ? { ...this.view(rows[0]), writes: rows[0].writes } : undefined;
  }

  private view(row: RecordRow): RecordDto {
    return {
      id: row.record_id,
      model: row.model,
      data: fillFields(this.config.schema.model(row.model)?.fieldNames, row.data),
    };
  }
}
