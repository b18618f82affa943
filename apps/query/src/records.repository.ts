import { Inject, Injectable } from '@nestjs/common';
import { recordCursor } from './cursor';
import type { QueryConfig } from './query.config';
import { QueryDatabase } from './query-database.service';
import { QUERY_CONFIG } from './query.tokens';
import type { RecordDto } from './query.dto';
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
    const rows = await this.database.query<RecordRow>(
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

  private view(row: RecordRow): RecordDto {
    return {
      id: row.record_id,
      model: row.model,
      data: fillFields(this.config.schema.model(row.model)?.fieldNames, row.data),
    };
  }
}
