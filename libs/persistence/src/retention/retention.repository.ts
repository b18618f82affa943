import type { Pool } from 'pg';

/*
 * Op-log compaction in Postgres (docs/RETENTION.md). The rules are those of
 * libs/protocol/src/merge/supersession.ts, evaluated against the projected rows: an op is
 * superseded when the record's or relation's current clocks (records.clocks,
 * relations.clocks / presence_clock) are greater than the op's own clock. A compacted op keeps
 * its row with node, hybrid and content_hash (what the projector reads to detect duplicates,
 * contract D1) and loses its body (operation = NULL), which takes it out of the feed.
 *
 * Clocks compare as (hybrid numeric, node text in byte order): the merge engine's order.
 */

/** A stored clock [hybrid, node] as a row value comparable with an op's (hybrid, node). */
const clockRow = (clock: string) => `((${clock})->>0)::numeric, ((${clock})->>1) COLLATE "C"`;
const OP_CLOCK = `b.hybrid, b.node::text COLLATE "C"`;
const greater = (clock: string) => `COALESCE((${clockRow(clock)}) > (${OP_CLOCK}), false)`;

/**
 * One batch of one library: ops with offset in ($2, $3) in the feed, at most $4 of them, marked
 * compacted unless $5 (dry run). One statement, so one short transaction with one snapshot of the
 * operations and projection rows; the library's feed counter follows in the same statement.
 */
const COMPACT_BATCH_SQL = `
WITH batch AS (
  SELECT log_offset, node, hybrid, operation AS op
    FROM operations
   WHERE library_id = $1 AND log_offset > $2 AND log_offset < $3 AND operation IS NOT NULL
   ORDER BY log_offset
   LIMIT $4
),
superseded AS (
  SELECT b.log_offset
    FROM batch b
    JOIN records r ON r.library_id = $1 AND r.record_id = (b.op->>'recordId')::uuid
   WHERE b.op ? 'recordId' AND b.op->>'type' = 'UPDATE'
     AND (r.deleted OR ${greater(`r.clocks->(b.op->>'field')`)})
  UNION ALL
  SELECT b.log_offset
    FROM batch b
    JOIN relations l ON l.library_id = $1 AND l.relation = b.op->>'relation'
     AND l.item_id = (b.op->>'relationItem')::uuid AND l.group_id = (b.op->>'relationGroup')::uuid
   WHERE b.op ? 'relationItem'
     AND CASE b.op->>'type'
           WHEN 'UPDATE' THEN ${greater(`l.clocks->(b.op->>'field')`)}
           WHEN 'DELETE' THEN ${greater('l.presence_clock')}
           ELSE ${greater('l.presence_clock')}
                AND NOT EXISTS (
                  SELECT 1 FROM jsonb_object_keys(COALESCE(b.op->'data', '{}'::jsonb)) AS k(name)
                   WHERE NOT ${greater('l.clocks->k.name')})
         END
),
removed AS (
  UPDATE operations o SET operation = NULL
    FROM superseded s
   WHERE NOT $5::boolean AND o.library_id = $1 AND o.log_offset = s.log_offset
     AND o.operation IS NOT NULL
  RETURNING o.log_offset
),
counted AS (
  UPDATE libraries SET operations = operations - (SELECT count(*) FROM removed), updated_at = now(),
         compacted_through = GREATEST(compacted_through, last_offset)
   WHERE library_id = $1 AND (SELECT count(*) FROM removed) > 0
)
SELECT (SELECT max(log_offset) FROM batch)::text AS last_offset,
       (SELECT count(*) FROM batch)::int AS scanned,
       (SELECT count(*) FROM superseded)::int AS superseded,
       (SELECT count(*) FROM removed)::int AS removed`;

export interface LibraryRetention {
  libraryId: string;
  /** Offset of the library's last op in the log. */
  lastOffset: bigint;
  /** Current compaction horizon (0: never compacted). */
  compactedBefore: bigint;
  /** Ops currently in the feed. */
  operations: bigint;
}

export interface NodeProgress {
  node: string;
  /** Offset the node has pulled through (the `after` of its last pull); null: never reported. */
  pulledThrough: bigint | null;
  /** Last pull, or the physical time of its latest op, whichever is later. */
  lastActive: Date;
  /** Idle longer than the window: it does not hold the horizon back (it will re-bootstrap). */
  idle: boolean;
}

export interface SafeHorizon {
  /** Ops below this offset are held by every active node. */
  horizon: bigint;
  nodes: NodeProgress[];
}

export interface BatchResult {
  /** Offset of the last op the batch looked at; null when nothing was left below the horizon. */
  lastOffset: bigint | null;
  scanned: number;
  superseded: number;
  removed: number;
}

export interface CompactionProgress {
  libraryId: string;
  scanned: number;
  superseded: number;
  removed: number;
  /** Offset reached so far. */
  offset: bigint | null;
}

export interface CompactionResult extends CompactionProgress {
  horizon: bigint;
  dryRun: boolean;
}

export interface CompactOptions {
  /** Ops with an offset below this may be dropped; clamped to the library's last offset + 1. */
  horizon: bigint;
  dryRun?: boolean;
  /** Ops looked at per statement (short transactions). Default 5000. */
  batchSize?: number;
  onProgress?: (progress: CompactionProgress) => void;
}

interface LibraryRow {
  library_id: string;
  last_offset: string;
  compacted_before: string;
  operations: string;
}

/** Whole seconds of an NTP64 hybrid (upper 32 bits). */
const hybridSeconds = (hybrid: string): number => Number(BigInt(hybrid) >> 32n);

/** Compaction of the op log and what it needs to decide how far it may go. */
export class RetentionRepository {
  constructor(private readonly pool: Pool) {}

  async libraries(): Promise<LibraryRetention[]> {
    const { rows } = await this.pool.query<LibraryRow>(
      `SELECT library_id, last_offset, compacted_before, operations FROM libraries
        ORDER BY library_id`,
    );
    return rows.map(toRetention);
  }

  async library(libraryId: string): Promise<LibraryRetention | undefined> {
    const { rows } = await this.pool.query<LibraryRow>(
      `SELECT library_id, last_offset, compacted_before, operations FROM libraries
        WHERE library_id = $1`,
      [libraryId],
    );
    return rows[0] && toRetention(rows[0]);
  }

  /**
   * The highest horizon no active node is behind: one past the lowest position of the nodes
   * known to the library (those that reported pulls, and those that produced its ops), leaving
   * out nodes idle for longer than `idleMs`. A producing node that never reported a position
   * counts as position -1 (horizon 0) until it goes idle. No active node: everything may go.
   */
  async safeHorizon(
    library: LibraryRetention,
    idleMs: number,
    now = new Date(),
  ): Promise<SafeHorizon> {
    const { rows } = await this.pool.query<{
      node: string;
      pulled_through: string | null;
      seen_at: Date | null;
      last_hybrid: string | null;
    }>(
      `WITH producers AS (
         SELECT node, max(hybrid)::text AS last_hybrid FROM operations
          WHERE library_id = $1 GROUP BY node
       ), positions AS (
         SELECT node, pulled_through, seen_at FROM node_positions WHERE library_id = $1
       )
       SELECT COALESCE(p.node, n.node) AS node, n.pulled_through, n.seen_at, p.last_hybrid
         FROM producers p FULL JOIN positions n ON n.node = p.node
        ORDER BY 1`,
      [library.libraryId],
    );
    const cutoff = now.getTime() - idleMs;
    const nodes = rows.map((row): NodeProgress => {
      const times = [
        row.seen_at?.getTime() ?? 0,
        row.last_hybrid === null ? 0 : hybridSeconds(row.last_hybrid) * 1000,
      ];
      const lastActive = new Date(Math.max(...times));
      return {
        node: row.node,
        pulledThrough: row.pulled_through === null ? null : BigInt(row.pulled_through),
        lastActive,
        idle: lastActive.getTime() < cutoff,
      };
    });
    let horizon = library.lastOffset + 1n;
    for (const node of nodes) {
      if (node.idle) continue;
      const next = (node.pulledThrough ?? -1n) + 1n;
      if (next < horizon) horizon = next;
    }
    return { horizon: horizon < 0n ? 0n : horizon, nodes };
  }

  /**
   * Compacts one library below `horizon`. The horizon is recorded first, in its own committed
   * statement, so a feed reader that sees any compacted op also sees the horizon that covers
   * it (and answers 410 SNAPSHOT_REQUIRED to nodes behind it). Then the ops below it are
   * scanned from the start of the library in batches, each its own short statement: safe while
   * the projector writes and the query service serves. Re-running is harmless and picks up ops
   * superseded since the last run.
   */
  async compact(libraryId: string, options: CompactOptions): Promise<CompactionResult> {
    const library = await this.library(libraryId);
    if (library === undefined) throw new Error(`library ${libraryId} has no ops in this database`);
    const dryRun = options.dryRun ?? false;
    const limit =
      options.horizon > library.lastOffset + 1n ? library.lastOffset + 1n : options.horizon;
    let horizon = limit > library.compactedBefore ? limit : library.compactedBefore;
    if (!dryRun) {
      const { rows } = await this.pool.query<{ compacted_before: string }>(
        `UPDATE libraries SET compacted_before = GREATEST(compacted_before, $2), updated_at = now()
          WHERE library_id = $1 RETURNING compacted_before`,
        [libraryId, horizon.toString()],
      );
      horizon = BigInt(rows[0].compacted_before);
    }
    const progress: CompactionProgress = {
      libraryId,
      scanned: 0,
      superseded: 0,
      removed: 0,
      offset: null,
    };
    let after = -1n;
    for (;;) {
      const batch = await this.compactBatch(
        libraryId,
        after,
        horizon,
        options.batchSize ?? 5000,
        dryRun,
      );
      if (batch.lastOffset === null) break;
      after = batch.lastOffset;
      progress.scanned += batch.scanned;
      progress.superseded += batch.superseded;
      progress.removed += batch.removed;
      progress.offset = batch.lastOffset;
      options.onProgress?.({ ...progress });
    }
    return { ...progress, horizon, dryRun };
  }

  /** One batch: ops in the feed with offset in (after, before), at most `limit`. */
  async compactBatch(
    libraryId: string,
    after: bigint,
    before: bigint,
    limit: number,
    dryRun: boolean,
  ): Promise<BatchResult> {
    const { rows } = await this.pool.query<{
      last_offset: string | null;
      scanned: number;
      superseded: number;
      removed: number;
    }>(COMPACT_BATCH_SQL, [libraryId, after.toString(), before.toString(), limit, dryRun]);
    const row = rows[0];
    return {
      lastOffset: row.last_offset === null ? null : BigInt(row.last_offset),
      scanned: row.scanned,
      superseded: row.superseded,
      removed: row.removed,
    };
  }
}

function toRetention(row: LibraryRow): LibraryRetention {
  return {
    libraryId: row.library_id,
    lastOffset: BigInt(row.last_offset),
    compactedBefore: BigInt(row.compacted_before),
    operations: BigInt(row.operations),
  };
}
