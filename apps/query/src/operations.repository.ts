import { Injectable } from '@nestjs/common';
import { operationCursor, rejectedCursor } from './cursor';
import { QueryDatabase } from './query-database.service';
import type { FeedEntryDto, RejectedEntryDto } from './query.dto';
import { type Page, toPage } from './views';

interface FeedRow {
  log_offset: string;
  operation: Record<string, unknown>;
}

interface RejectedRow extends FeedRow {
  reason: string;
}

@Injectable()
export class OperationsRepository {
  constructor(private readonly database: QueryDatabase) {}

  /** The library's op log after `after` (exclusive), in log order; primary key scan. */
  async feed(libraryId: string, after: bigint, limit: number): Promise<Page<FeedEntryDto>> {
    const rows = await this.database.query<FeedRow>(
      `SELECT log_offset, operation FROM operations
        WHERE library_id = $1 AND log_offset > $2
        ORDER BY log_offset LIMIT $3`,
      [libraryId, after.toString(), limit + 1],
    );
    return toPage(
      rows,
      limit,
      (row) => ({ offset: String(row.log_offset), operation: row.operation }),
      (row) => operationCursor.encode(String(row.log_offset)),
    );
  }

  async rejected(libraryId: string, after: bigint, limit: number): Promise<Page<RejectedEntryDto>> {
    const rows = await this.database.query<RejectedRow>(
      `SELECT log_offset, operation, reason FROM rejected_operations
        WHERE library_id = $1 AND log_offset > $2
        ORDER BY log_offset LIMIT $3`,
      [libraryId, after.toString(), limit + 1],
    );
    return toPage(
      rows,
      limit,
      (row) => ({ offset: String(row.log_offset), operation: row.operation, reason: row.reason }),
      (row) => rejectedCursor.encode(String(row.log_offset)),
    );
  }
}
