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
  defaultSchema,
  emptySlice,
  hybridFromMillis,
  materializeSlice,
  mergeBatch,
  normalizeUuid,
  validateBatch,
} from '../protocol';
import type { FeedPage, PullRequest, PushResult, SyncTransport } from '../transport/sync-transport';

export interface InMemorySyncServerOptions {
  schema?: Schema;
  /** The server's wall clock in ms (default Date.now). */
  now?: () => number;
  maxDriftMs?: number;
}

interface LibraryLog {
  slice: LibrarySlice;
  /** Accepted, non-revoked ops by offset, in log order (what GET /operations serves). */
  feed: Map<bigint, Operation>;
  rejected: { offset: bigint; op: Operation; reason: RejectionReason }[];
  duplicates: bigint[];
  /** Every message ever published, duplicates and rejected ones included. */
  published: number;
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
  private readonly libraries = new Map<string, LibraryLog>();
  private nextOffset = 0n;

  constructor(options: InMemorySyncServerOptions = {}) {
    this.schema = options.schema ?? defaultSchema();
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

  private library(libraryId: string): LibraryLog {
    const id = normalizeUuid(libraryId);
    if (id === null) throw new SyncApiError(400, 'INVALID_LIBRARY_ID', 'not a UUID');
    let log = this.libraries.get(id);
    if (log === undefined) {
      log = { slice: emptySlice(), feed: new Map(), rejected: [], duplicates: [], published: 0 };
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
