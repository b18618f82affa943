import { Inject, Injectable } from '@nestjs/common';
import { STORED_OFFSET_SQL } from '@sync/persistence';
import { libraryCursor } from './cursor';
import type { QueryConfig } from './query.config';
import { QueryDatabase } from './query-database.service';
import { QUERY_CONFIG } from './query.tokens';
import type { LibrarySummaryDto } from './query.dto';
import { VISIBLE_RELATION_JOINS, declaredRelationsCondition } from './visible-relations.sql';
import { type Page, toPage } from './views';

export interface LibraryCounts {
  records: number;
  relations: number;
  pending: number;
  rejected: number;
}

interface SummaryRow {
  library_id: string;
  partition: number;
  operations: string;
  records: string;
  relations: string;
  pending: string;
  rejected: string;
}

interface StatusRow {
  partition: number | null;
  next_offset: string | null;
  records: string;
  relations: string;
  pending: string;
  rejected: string;
}

@Injectable()
export class LibrariesRepository {
  private readonly visibleRelations: string;

  constructor(
    @Inject(QUERY_CONFIG) private readonly config: QueryConfig,
    private readonly database: QueryDatabase,
  ) {
    this.visibleRelations = declaredRelationsCondition(config.schema);
  }

  /** Counts of the library `id` (an SQL expression), as select-list subqueries. */
  private countColumns(id: string): string {
    return `
      (SELECT count(*) FROM records x WHERE x.library_id = ${id} AND NOT x.deleted) AS records,
      (SELECT count(*) FROM relations r ${VISIBLE_RELATION_JOINS}
        WHERE r.library_id = ${id} AND ${this.visibleRelations}) AS relations,
      (SELECT count(*) FROM pending_operations p WHERE p.library_id = ${id}) AS pending,
      (SELECT count(*) FROM rejected_operations j WHERE j.library_id = ${id}) AS rejected`;
  }

  /** Libraries the projector has seen, by id, with their counts. */
  async page(after: string | undefined, limit: number): Promise<Page<LibrarySummaryDto>> {
    // Keyset bound only when there is one, so the primary key scan starts right there.
    const rows = await this.database.query<SummaryRow>(
      `SELECT l.library_id, l.partition, l.operations, c.*
         FROM libraries l
         CROSS JOIN LATERAL (SELECT ${this.countColumns('l.library_id')}) c
        ${after === undefined ? '' : 'WHERE l.library_id > $2'}
        ORDER BY l.library_id
        LIMIT $1`,
      after === undefined ? [limit + 1] : [limit + 1, after],
    );
    return toPage(
      rows,
      limit,
      (row) => ({
        id: row.library_id,
        partition: row.partition,
        operations: Number(row.operations),
        records: Number(row.records),
        relations: Number(row.relations),
        pending: Number(row.pending),
        rejected: Number(row.rejected),
      }),
      (row) => libraryCursor.encode(row.library_id),
    );
  }

  /** The partition the projector recorded for the library; undefined when it has not seen it. */
  async recordedPartition(libraryId: string): Promise<number | undefined> {
    const rows = await this.database.query<{ partition: number }>(
      `SELECT partition FROM libraries WHERE library_id = $1`,
      [libraryId],
    );
    return rows[0]?.partition;
  }

  /** Counts, the recorded partition and that partition's next offset, in one round trip. */
  async status(
    libraryId: string,
  ): Promise<LibraryCounts & { partition: number | null; nextOffset: string | null }> {
    const rows = await this.database.query<StatusRow>(
      `SELECT l.partition, o.next_offset, ${this.countColumns('$1')}
         FROM (SELECT 1) one
         LEFT JOIN libraries l ON l.library_id = $1
         LEFT JOIN partition_offsets o ON o.topic = $2 AND o.partition = l.partition`,
      [libraryId, this.config.kafka.operationsTopic],
    );
    const row = rows[0];
    return {
      partition: row.partition,
      nextOffset: row.next_offset,
      records: Number(row.records),
      relations: Number(row.relations),
      pending: Number(row.pending),
      rejected: Number(row.rejected),
    };
  }

  async nextOffset(partition: number): Promise<string | null> {
    const rows = await this.database.query<{ next_offset: string }>(STORED_OFFSET_SQL, [
      this.config.kafka.operationsTopic,
      partition,
    ]);
    return rows[0]?.next_offset ?? null;
  }
}
