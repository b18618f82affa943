import { SyncApiError, SyncNetworkError } from '../errors';
import {
  DEFAULT_MAX_DRIFT_MS,
  HybridLogicalClock,
  type LibrarySlice,
  type LoggedOperation,
  type MaterializedState,
  type Operation,
  type RejectionReason,
  type Schema,
  type SnapshotClocks,
  defaultSchema,
  emptySlice,
  hybridFromMillis,
  materializeSlice,
  mergeBatch,
  normalizeUuid,
  supersededOffsets,
  validateBatch,
} from '../protocol';
import {
  type SnapshotContents,
  decodeSnapshot,
  snapshotRecordLine,
  snapshotRelationLine,
} from '../replica/snapshot-slice';
import type { FeedPage, PullRequest, PushResult, SyncTransport } from '../transport/sync-transport';

export interface InMemorySyncServerOptions {
  schema?: Schema;
  /** The server's wall clock in ms (default Date.now). */
  now?: () => number;
  maxDriftMs?: number;
  /**
   * How snapshot() has the snapshot spell records' clocks: `compact` (default), as
   * SyncHttpTransport asks for (`clocks=compact`), or `fields`, as a server that was not asked
   * (or ignores it) answers.
   */
  snapshotClocks?: SnapshotClocks;
}

export type { SnapshotClocks } from '../protocol';

interface LibraryLog {
  slice: LibrarySlice;
  /** Accepted, non-revoked ops by offset, in log order (what GET /operations serves). */
  feed: Map<bigint, Operation>;
  rejected: { offset: bigint; op: Operation; reason: RejectionReason }[];
  duplicates: bigint[];
  /** Every message ever published, duplicates and rejected ones included. */
  published: number;
  /** Compaction horizon: superseded ops below it are gone from the feed (docs/RETENTION.md). */
  compactedBefore: bigint;
  /** Last `after` each node pulled with (PullRequest.node). */
  positions: Map<string, bigint>;
}

/**
 * A stand-in for the whole service (ingest + Kafka + projector + query) in one process, for tests
 * of code that syncs and for trying the client offline. It keeps the contract's observable
 * behaviour: 422 VALIDATION_FAILED / TIMESTAMP_DRIFT with details, all-or-nothing batches, one log
 * with increasing offsets shared by all libraries (like one Kafka partition), the protocol's
 * merge engine applied in log order at once (so minOffset never has to wait), and a feed without
 * duplicates and rejected ops. Requests and answers go through JSON, as on the wire.
 */
export class InMemorySyncServer implements SyncTransport {
  readonly schema: Schema;
  private readonly clock: HybridLogicalClock;
  private readonly snapshotClocks: SnapshotClocks;
  private readonly libraries = new Map<string, LibraryLog>();
  private nextOffset = 0n;

  constructor(options: InMemorySyncServerOptions = {}) {
    this.schema = options.schema ?? defaultSchema();
    this.snapshotClocks = options.snapshotClocks ?? 'compact';
    const now = options.now ?? Date.now;
    this.clock = new HybridLogicalClock({
      wallClock: () => hybridFromMillis(now()),
      maxDriftMs: options.maxDriftMs ?? DEFAULT_MAX_DRIFT_MS,
    });
  }

  push(libraryId: string, ops: readonly Operation[]): Promise<PushResult> {
    return settle(() => this.publish(libraryId, wire<unknown[]>([...ops])));
  }

  pull(libraryId: string, request: PullRequest): Promise<FeedPage> {
    return settle(() => {
      const log = this.library(libraryId);
      const after = request.after ?? -1n;
      if (request.node !== undefined) log.positions.set(request.node, after);
      if (after < log.compactedBefore - 1n) {
        throw new SyncApiError(
          410,
          'SNAPSHOT_REQUIRED',
          `the feed was compacted below offset ${log.compactedBefore}; bootstrap from the snapshot`,
          [{ horizon: log.compactedBefore.toString(), after: after.toString() }],
        );
      }
      const items = [];
      let more = false;
      for (const [offset, operation] of log.feed) {
        if (request.after !== null && offset <= request.after) continue;
        if (items.length === request.limit) {
          more = true;
          break;
        }
        items.push({ offset, operation: wire(operation) });
      }
      const last = items[items.length - 1];
      return { items, nextCursor: more && last ? last.offset.toString() : null };
    });
  }

  /**
   * GET /libraries/{id}/snapshot?view=full&clocks=compact: the library's rows as NDJSON lines,
   * decoded by the client's own decoder (like SyncHttpTransport.snapshot), at the log's current
   * offset; records' clocks in the form the snapshotClocks option chose.
   */
  snapshot(libraryId: string): Promise<SnapshotContents> {
    return settle(() =>
      decodeSnapshot(this.snapshotText(libraryId, { clocks: this.snapshotClocks })),
    );
  }

  /**
   * Compacts the library's feed as the compact command does: raises the horizon to `before`
   * (default: one past the lowest position any node reported, else the end of the log) and drops
   * the superseded ops below it. Identities stay known, so re-sent ops are still duplicates.
   */
  compact(libraryId: string, before?: bigint): { horizon: bigint; removed: number } {
    const log = this.library(libraryId);
    let horizon = before ?? this.nextOffset;
    if (before === undefined) {
      for (const position of log.positions.values()) {
        if (position + 1n < horizon) horizon = position + 1n;
      }
    }
    if (horizon > log.compactedBefore) log.compactedBefore = horizon;
    const feed = [...log.feed].map(([offset, op]) => ({ offset, op }));
    const removed = supersededOffsets(feed, log.slice, log.compactedBefore);
    for (const offset of removed) log.feed.delete(offset);
    return { horizon: log.compactedBefore, removed: removed.length };
  }

  /** The library's visible state, as GET /records and /relations would list it. */
  state(libraryId: string): MaterializedState {
    return materializeSlice(this.schema, this.library(libraryId).slice);
  }

  feed(libraryId: string): LoggedOperation[] {
    return [...this.library(libraryId).feed].map(([offset, op]) => ({ offset, op }));
  }

  rejected(libraryId: string): { offset: bigint; op: Operation; reason: RejectionReason }[] {
    return [...this.library(libraryId).rejected];
  }

  /** Offsets of messages that were exact duplicates of accepted ops (D1). */
  duplicates(libraryId: string): bigint[] {
    return [...this.library(libraryId).duplicates];
  }

  /** Messages published to the library's log, duplicates and rejected ones included. */
  published(libraryId: string): number {
    return this.library(libraryId).published;
  }

  private publish(libraryId: string, ops: unknown[]): PushResult {
    const log = this.library(libraryId);
    if (ops.length === 0) {
      throw new SyncApiError(422, 'VALIDATION_FAILED', 'empty batch', [
        { index: 0, path: '', message: 'at least one op is required' },
      ]);
    }
    const checked = validateBatch(ops, this.schema);
    if (checked.errors.length > 0) {
      throw new SyncApiError(
        422,
        'VALIDATION_FAILED',
        'invalid operations',
        checked.errors.map((e) => ({ ...e })),
      );
    }
    const clocked = this.clock.updateBatch(checked.ops.map((op) => BigInt(op.timestamp.hybrid)));
    if (!clocked.ok) {
      throw new SyncApiError(422, 'TIMESTAMP_DRIFT', `op ${clocked.index} is too far ahead`, [
        { index: clocked.index, path: 'timestamp.hybrid', message: `${clocked.driftMs} ms ahead` },
      ]);
    }
    const batch = checked.ops.map((op) => ({ offset: this.nextOffset++, op }));
    log.published += batch.length;
    const result = mergeBatch(this.schema, log.slice, batch);
    log.slice = result.slice;
    for (const offset of result.revoked) log.feed.delete(offset);
    // Offsets only grow, so insertion order stays log order.
    for (const { offset, op } of result.accepted) log.feed.set(offset, op);
    for (const { offset, op, reason } of result.rejections)
      log.rejected.push({ offset, op, reason });
    log.duplicates.push(...result.duplicates);
    return {
      accepted: batch.length,
      partition: 0,
      firstOffset: batch[0].offset,
      lastOffset: batch[batch.length - 1].offset,
    };
  }

  /**
   * The NDJSON body GET /libraries/{id}/snapshot?view=full would answer now; with
   * `clocks: 'compact'` (`&clocks=compact`), records' clocks as compactClocks' text, except a
   * row's that text cannot hold (as the query service does).
   */
  snapshotText(libraryId: string, options: { clocks?: SnapshotClocks } = {}): string {
    const log = this.library(libraryId);
    let clock: bigint | null = null;
    for (const op of log.feed.values()) {
      const hybrid = BigInt(op.timestamp.hybrid);
      if (clock === null || hybrid > clock) clock = hybrid;
    }
    const lines: unknown[] = [
      {
        type: 'snapshot',
        libraryId: normalizeUuid(libraryId),
        partition: 0,
        offset: this.nextOffset > 0n ? (this.nextOffset - 1n).toString() : null,
        clock: clock === null ? null : clock.toString(),
        view: 'full',
      },
    ];
    for (const r of log.slice.records.values()) lines.push(snapshotRecordLine(r, options.clocks));
    for (const r of log.slice.relations.values()) lines.push(snapshotRelationLine(r));
    const pending = [...log.slice.pending.values()].flat();
    for (const p of pending) {
      lines.push({ type: 'pending', offset: p.offset.toString(), operation: p.op });
    }
    lines.push({
      type: 'end',
      records: log.slice.records.size,
      relations: log.slice.relations.size,
      pending: pending.length,
    });
    return lines.map((line) => JSON.stringify(line)).join('\n');
  }

  private library(libraryId: string): LibraryLog {
    const id = normalizeUuid(libraryId);
    if (id === null) throw new SyncApiError(400, 'INVALID_LIBRARY_ID', 'not a UUID');
    let log = this.libraries.get(id);
    if (log === undefined) {
      log = {
        slice: emptySlice(),
        feed: new Map(),
        rejected: [],
        duplicates: [],
        published: 0,
        compactedBefore: 0n,
        positions: new Map(),
      };
      this.libraries.set(id, log);
    }
    return log;
  }
}

export type FaultMode = 'lost-request' | 'lost-answer';

/**
 * Wraps a transport and fails chosen calls the way a network does: 'lost-request' never reaches
 * the server; 'lost-answer' reaches it (the push is published) and then times out. Both throw
 * SyncNetworkError, as SyncHttpTransport does once its retries are spent.
 */
export class FlakyTransport implements SyncTransport {
  private readonly pushFaults: FaultMode[] = [];
  private readonly pullFaults: FaultMode[] = [];
  pushCalls = 0;
  pullCalls = 0;

  constructor(private readonly inner: SyncTransport) {}

  failNextPush(mode: FaultMode): this {
    this.pushFaults.push(mode);
    return this;
  }

  failNextPull(mode: FaultMode): this {
    this.pullFaults.push(mode);
    return this;
  }

  /** Forgets faults that have not fired (e.g. armed for a push that had nothing to send). */
  clearFaults(): void {
    this.pushFaults.length = 0;
    this.pullFaults.length = 0;
  }

  async push(libraryId: string, ops: readonly Operation[]): Promise<PushResult> {
    this.pushCalls++;
    const fault = this.pushFaults.shift();
    if (fault === 'lost-request') throw lost('push');
    const result = await this.inner.push(libraryId, ops);
    if (fault === 'lost-answer') throw lost('push');
    return result;
  }

  async pull(libraryId: string, request: PullRequest): Promise<FeedPage> {
    this.pullCalls++;
    const fault = this.pullFaults.shift();
    if (fault === 'lost-request') throw lost('pull');
    const page = await this.inner.pull(libraryId, request);
    if (fault === 'lost-answer') throw lost('pull');
    return page;
  }
}

function lost(what: string): SyncNetworkError {
  return new SyncNetworkError(`${what}: simulated timeout`, 1);
}

/** JSON round trip: the server and its clients never share objects, as over HTTP. */
function wire<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** Runs synchronously, answering like an async transport (errors become rejections). */
function settle<T>(run: () => T): Promise<T> {
  return new Promise((resolve) => resolve(run()));
}
