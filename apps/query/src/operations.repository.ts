import { Injectable } from '@nestjs/common';
import { SyncError } from '@sync/platform';
import { operationCursor, rejectedCursor } from './cursor';
import { QueryDatabase } from './query-database.service';
import type { FeedEntryDto, RejectedEntryDto } from './query.dto';
import { type Page, toPage } from './views';

interface FeedRow {
  log_offset: string;
  operation: Record<string, unknown>;
}

interface HorizonFeedRow {
  horizon: string;
  log_offset: string | null;
  operation: Record<string, unknown> | null;
}

/** A node reports the same position at most this often (each pull of a live node would write). */
const POSITION_WRITE_INTERVAL_MS = 10_000;
const MAX_REMEMBERED_POSITIONS = 100_000;

interface RejectedRow extends FeedRow {
  reason: string;
}

@Injectable()
export class OperationsRepository {
  private readonly reported = new Map<string, { position: bigint; at: number }>();

  constructor(private readonly database: QueryDatabase) {}

  /**
   * The library's op log after `after` (exclusive), in log order; primary key scan. Compacted
   * ops (docs/RETENTION.md) are left out; a reader behind the compaction horizon gets 410
   * SNAPSHOT_REQUIRED. Horizon and page come from one statement, hence one snapshot: a
   * compaction committing in between cannot hide ops from a page that passed the check.
   */
  async feed(libraryId: string, after: bigint, limit: number): Promise<Page<FeedEntryDto>> {
    const rows = await this.database.query<HorizonFeedRow>(
      `SELECT h.horizon::text AS horizon, o.log_offset, o.operation
         FROM (SELECT COALESCE((SELECT compacted_before FROM libraries WHERE library_id = $1), 0)
                      AS horizon) h
         LEFT JOIN LATERAL (
           SELECT log_offset, operation FROM operations
            WHERE library_id = $1 AND log_offset > $2 AND operation IS NOT NULL
            ORDER BY log_offset LIMIT $3
         ) o ON true`,
      [libraryId, after.toString(), limit + 1],
    );
    const horizon = BigInt(rows[0].horizon);
    if (after < horizon - 1n) throw snapshotRequired(libraryId, after, horizon);
    const entries = rows.filter((row): row is HorizonFeedRow & FeedRow => row.log_offset !== null);
    return toPage(
      entries,
      limit,
      (row) => ({ offset: String(row.log_offset), operation: row.operation }),
      (row) => operationCursor.encode(String(row.log_offset)),
    );
  }

  /**
   * Records that `node` holds the library's feed through `pulledThrough` (the `after` it asked
   * with): compaction may then drop superseded ops up to there. Repeats of the same position
   * within a few seconds are not written again.
   */
  async recordPosition(libraryId: string, node: string, pulledThrough: bigint): Promise<void> {
    const key = `${libraryId}/${node}`;
    const now = Date.now();
    const last = this.reported.get(key);
    if (last?.position === pulledThrough && now - last.at < POSITION_WRITE_INTERVAL_MS) return;
    await this.database.query(
      `INSERT INTO node_positions (library_id, node, pulled_through, seen_at)
       VALUES ($1, $2, $3, now())
       ON CONFLICT (library_id, node) DO UPDATE SET
         pulled_through = EXCLUDED.pulled_through, seen_at = EXCLUDED.seen_at`,
      [libraryId, node, pulledThrough.toString()],
    );
    if (this.reported.size >= MAX_REMEMBERED_POSITIONS) this.reported.clear();
    this.reported.set(key, { position: pulledThrough, at: now });
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

function snapshotRequired(libraryId: string, after: bigint, horizon: bigint): SyncError {
  return new SyncError(
    'SNAPSHOT_REQUIRED',
    `the feed of this library was compacted below offset ${horizon}; a node that has pulled ` +
      `only through ${after} must bootstrap from GET /libraries/${libraryId}/snapshot ` +
      `(view=full), then pull with after = the snapshot's offset`,
    [
      {
        horizon: horizon.toString(),
        after: after.toString(),
        snapshot: `/libraries/${libraryId}/snapshot?view=full`,
      },
    ],
  );
}
