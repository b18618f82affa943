import { Injectable } from '@nestjs/common';
import { SyncError } from '@sync/platform';
import type { PoolClient } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { copyLines } from './copy-lines';
import { operationCursor, rejectedCursor } from './cursor';
import { PrimaryDatabase } from './primary-database.service';
import { QueryDatabase } from './query-database.service';
import type { RejectedEntryDto } from './query.dto';
import { type JsonBody, type Page, pageJson, toPage } from './views';

interface FeedRow {
  log_offset: string;
  operation: Record<string, unknown>;
}

interface HorizonFeedRow {
  horizon: string;
  log_offset: string | null;
  entry: string | null;
}

/**
 * A feed entry `{"offset","operation"}` of `operations` as Postgres prints it (the op is
 * jsonb's text: the same JSON, spaced), for the JSON page and the NDJSON lines alike: no op is
 * parsed or built in JS.
 */
const FEED_ENTRY = `'{"offset":"' || log_offset || '","operation":' || operation::text || '}'`;

/** The library's compaction horizon ($1: library): ops below it may be gone from the feed. */
const HORIZON = `COALESCE((SELECT compacted_before FROM libraries WHERE library_id = $1), 0)`;

/** A node reports the same position at most this often (each pull of a live node would write). */
const POSITION_WRITE_INTERVAL_MS = 10_000;
const MAX_REMEMBERED_POSITIONS = 100_000;

interface RejectedRow extends FeedRow {
  reason: string;
}

@Injectable()
export class OperationsRepository {
  private readonly reported = new Map<string, { position: bigint; at: number }>();

  constructor(
    private readonly database: QueryDatabase,
    private readonly primary: PrimaryDatabase,
  ) {}

  /**
   * The library's op log after `after` (exclusive), in log order; primary key scan. Compacted
   * ops (docs/RETENTION.md) are left out; a reader behind the compaction horizon gets 410
   * SNAPSHOT_REQUIRED. Horizon and page come from one statement, hence one snapshot: a
   * compaction committing in between cannot hide ops from a page that passed the check.
   */
  async feed(libraryId: string, after: bigint, limit: number): Promise<JsonBody> {
    const rows = await this.database.query<HorizonFeedRow>(
      `SELECT h.horizon::text AS horizon, o.log_offset, o.entry
         FROM (SELECT ${HORIZON} AS horizon) h
         LEFT JOIN LATERAL (
           SELECT log_offset, ${FEED_ENTRY} AS entry FROM operations
            WHERE library_id = $1 AND log_offset > $2 AND operation IS NOT NULL
            ORDER BY log_offset LIMIT $3
         ) o ON true`,
      [libraryId, after.toString(), limit + 1],
    );
    const horizon = BigInt(rows[0].horizon);
    if (after < horizon - 1n) throw snapshotRequired(libraryId, after, horizon);
    const entries = rows.filter(
      (row): row is { horizon: string; log_offset: string; entry: string } =>
        row.log_offset !== null,
    );
    return pageJson(
      toPage(
        entries,
        limit,
        (row) => row.entry,
        (row) => operationCursor.encode(row.log_offset),
      ),
    );
  }

  /**
   * The same feed as `feed`, for the NDJSON form: up to `limit` ops after `after`, streamed by
   * COPY as lines `{"offset","operation"}` printed by Postgres (the op is jsonb's text: the same
   * JSON, spaced), so no op is parsed or built in JS however big the page. Horizon check and
   * rows share one repeatable-read transaction, like `feed`'s one statement. Throws
   * SNAPSHOT_REQUIRED before anything is streamed; call `close` in every case.
   */
  async openFeed(libraryId: string, after: bigint, limit: number): Promise<OpenFeed> {
    const client = await this.database.connect();
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const { rows } = await client.query<{ horizon: string }>(
        `SELECT ${HORIZON}::text AS horizon`,
        [libraryId],
      );
      const horizon = BigInt(rows[0].horizon);
      if (after < horizon - 1n) throw snapshotRequired(libraryId, after, horizon);
      return new OpenFeed(client, libraryId, after, limit);
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release();
      throw error;
    }
  }

  /**
   * Records that `node` holds the library's feed through `pulledThrough` (the `after` it asked
   * with): compaction may then drop superseded ops up to there. Repeats of the same position
   * within a few seconds are not written again. Written to the primary: the read database may
   * be a read-only standby.
   */
  async recordPosition(libraryId: string, node: string, pulledThrough: bigint): Promise<void> {
    const key = `${libraryId}/${node}`;
    const now = Date.now();
    const last = this.reported.get(key);
    if (last?.position === pulledThrough && now - last.at < POSITION_WRITE_INTERVAL_MS) return;
    await this.primary.query(
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

const OFFSET_PREFIX = /^\{"offset":"(\d+)"/;

/** The offset of the last of complete feed lines. */
function lastOffset(text: Buffer): string {
  const start = text.lastIndexOf(0x0a, text.length - 2) + 1;
  const offset = OFFSET_PREFIX.exec(text.toString('latin1', start, start + 40))?.[1];
  if (offset === undefined) throw new Error('feed line without an offset');
  return offset;
}

/** An NDJSON feed answer being read (see OperationsRepository.openFeed). */
export class OpenFeed {
  /** A COPY was left unfinished: the connection is mid-protocol and must not be reused. */
  private broken = false;
  private released = false;
  private last: string | null = null;

  constructor(
    private readonly client: PoolClient,
    private readonly libraryId: string,
    private readonly after: bigint,
    private readonly limit: number,
  ) {}

  /** The lines, in log order, in chunks as COPY delivers them. */
  async *chunks(): AsyncGenerator<{ text: Buffer; count: number }> {
    this.broken = true;
    // COPY takes no bind parameters: the id is a parsed UUID, after and limit are integers.
    const sql = `COPY (SELECT ${FEED_ENTRY}, NULL::text
                         FROM operations
                        WHERE library_id = '${this.libraryId}' AND log_offset > ${this.after}
                          AND operation IS NOT NULL
                        ORDER BY log_offset LIMIT ${this.limit}) TO STDOUT (FORMAT binary)`;
    const stream = this.client.query(copyTo(sql)) as AsyncIterable<Buffer>;
    for await (const chunk of copyLines(stream, () => {
      throw new Error('feed line without text');
    })) {
      this.last = lastOffset(chunk.text);
      yield chunk;
    }
    this.broken = false;
  }

  /** After chunks(): the cursor to continue from when more ops follow, as in a JSON page. */
  async nextCursor(): Promise<string | null> {
    if (this.last === null) return null;
    const { rows } = await this.client.query<{ more: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM operations
                       WHERE library_id = $1 AND log_offset > $2 AND operation IS NOT NULL) AS more`,
      [this.libraryId, this.last],
    );
    return rows[0].more ? operationCursor.encode(this.last) : null;
  }

  async close(): Promise<void> {
    if (this.released) return;
    this.released = true;
    try {
      if (this.broken) throw new Error('feed COPY left unfinished');
      await this.client.query('ROLLBACK');
      this.client.release();
    } catch (error) {
      // A connection in an unknown state must not go back to the pool.
      this.client.release(error instanceof Error ? error : true);
    }
  }
}
