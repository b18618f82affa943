import { Injectable } from '@nestjs/common';
import { historyCursor } from './cursor';
import { RECORD_KEY_SQL, RELATION_KEY_SQL } from './op-log-keys.sql';
import { QueryDatabase } from './query-database.service';
import type { HistoryEntryDto } from './query.dto';
import { type Page, toPage } from './views';

interface HistoryRow {
  log_offset: string;
  operation: Record<string, unknown>;
  reason: string | null;
}

/**
 * The ops the log holds for one key, accepted and rejected alike, in log order (CONTRACT.md
 * section 8). Accepted ops are the feed's rows (pending ones included: they are in the feed);
 * rejected ones are those of GET /rejected, with the same reason. A revoked op (accepted while
 * pending, rejected when its CREATE came) is only in rejected_operations, at its offset.
 * Exact duplicates are not in the log: they are the op already listed. Both halves are index
 * range scans on (library, key, offset), keyset on the offset.
 */
@Injectable()
export class HistoryRepository {
  constructor(private readonly database: QueryDatabase) {}

  recordHistory(
    libraryId: string,
    recordId: string,
    after: bigint,
    limit: number,
  ): Promise<Page<HistoryEntryDto> | undefined> {
    return this.history(RECORD_KEY_SQL, libraryId, recordId, after, limit);
  }

  /** `key` is relationKey(relation, item, group). */
  relationHistory(
    libraryId: string,
    key: string,
    after: bigint,
    limit: number,
  ): Promise<Page<HistoryEntryDto> | undefined> {
    return this.history(RELATION_KEY_SQL, libraryId, key, after, limit);
  }

  /** undefined when the log holds no op for the key at all (404). */
  private async history(
    keySql: string,
    libraryId: string,
    key: string,
    after: bigint,
    limit: number,
  ): Promise<Page<HistoryEntryDto> | undefined> {
    const half = (table: string, reason: string) =>
      `(SELECT log_offset, operation, ${reason} AS reason FROM ${table}
         WHERE library_id = $1 AND ${keySql} = $2 AND log_offset > $3
         ORDER BY log_offset LIMIT $4)`;
    const rows = await this.database.query<HistoryRow>(
      `SELECT h.log_offset::text AS log_offset, h.operation, h.reason FROM (
         ${half('operations', 'NULL::text')}
         UNION ALL
         ${half('rejected_operations', 'reason')}
       ) h ORDER BY h.log_offset LIMIT $4`,
      [libraryId, key, after.toString(), limit + 1],
    );
    if (rows.length === 0 && !(await this.exists(keySql, libraryId, key))) return undefined;
    return toPage(
      rows,
      limit,
      (row): HistoryEntryDto =>
        row.reason === null
          ? { offset: row.log_offset, operation: row.operation, status: 'accepted' }
          : {
              offset: row.log_offset,
              operation: row.operation,
              status: 'rejected',
              reason: row.reason,
            },
      (row) => historyCursor.encode(row.log_offset),
    );
  }

  private async exists(keySql: string, libraryId: string, key: string): Promise<boolean> {
    const probe = (table: string) =>
      `EXISTS (SELECT 1 FROM ${table} WHERE library_id = $1 AND ${keySql} = $2)`;
    const rows = await this.database.query<{ found: boolean }>(
      `SELECT ${probe('operations')} OR ${probe('rejected_operations')} AS found`,
      [libraryId, key],
    );
    return rows[0].found;
  }
}
