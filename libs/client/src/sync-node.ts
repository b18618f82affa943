import {
  LocalRejectionError,
  LocalValidationError,
  SyncApiError,
  SyncClientError,
  SyncProtocolError,
} from './errors';
import type {
  DefaultModels,
  DefaultRelations,
  ModelName,
  ModelTypes,
  RelationName,
  RelationTypes,
} from './model-types';
import {
  DEFAULT_MAX_DRIFT_MS,
  HybridLogicalClock,
  type JsonObject,
  type JsonValue,
  type LoggedOperation,
  type MaterializedState,
  type Operation,
  type RecordCreate,
  type RecordDelete,
  type RecordUpdate,
  type RecordView,
  type RelationCreate,
  type RelationDelete,
  type RelationUpdate,
  type RelationView,
  type Schema,
  type ValidationIssue,
  defaultSchema,
  emptySlice,
  formatHybrid,
  hybridFromMillis,
  normalizeUuid,
  type StateDigestResult,
  validateOperation,
} from './protocol';
import { LocalReplica, type RelationFilter } from './replica/local-replica';
import {
  changedRows,
  decodeSlice,
  encodeSlice,
  encodeSliceChange,
  encodeSliceChangeRows,
  encodeSliceRows,
} from './replica/slice-codec';
import {
  type LocalStore,
  READABLE_STORE_FORMATS,
  STORE_FORMAT_VERSION,
  type StoredJournal,
  type StoredReplicaHeader,
} from './store/local-store';
import { MemoryStore } from './store/memory-store';
import { Mutex, SaveQueue } from './store/save-queue';
import type { SnapshotContents } from './replica/snapshot-slice';
import { ClockInterner } from './replica/wire-record';
import type { FeedPage, SyncTransport } from './transport/sync-transport';

/** Appended replica rows always allowed before a full save, however small the replica. */
const COMPACT_MIN_ROWS = 10_000;

/** Contract limit of a list page, and the batch size the ingest handles comfortably. */
export const MAX_PAGE = 1000;
/** Largest feed page the query service's NDJSON form answers (apps/query README). */
export const MAX_PULL_PAGE = 100_000;

type Draft<T> = T extends unknown ? Omit<T, 'node' | 'timestamp'> : never;
/** An op without `node` and `timestamp`: SyncNode.write() stamps those. */
export type OperationDraft = Draft<Operation>;

export interface SyncNodeOptions {
  libraryId: string;
  transport: SyncTransport;
  /** Default: a MemoryStore (state lives as long as the process). */
  store?: LocalStore;
  /** Default: the id saved in the store, else a new random UUID (saved at once). */
  nodeId?: string;
  /** Must be the server's schema (SYNC_SCHEMA). Default: the bundled default schema. */
  schema?: Schema;
  /** Wall clock in ms since the epoch (default Date.now); inject to test skewed clocks. */
  now?: () => number;
  /** Receive rule: remote hybrids further ahead of our wall clock do not move our clock. */
  maxDriftMs?: number;
  /** Ops per POST (1..1000, default 1000). */
  pushBatchSize?: number;
  /**
   * Feed entries per GET (1..100,000, default 1000). Pages over 1000 need the NDJSON feed of
   * this version's query service (a server with only the contract's JSON form refuses them);
   * 10,000 suits catching up on large libraries.
   */
  pullPageSize?: number;
  /** How long the query service may wait for our own pushed ops to be applied (default 5000). */
  readYourWritesWaitMs?: number;
  /** During a long pull, save the replica every this many pages (default 10). */
  checkpointPages?: number;
  /** Where a digest mismatch found by sync() is reported (default console). */
  logger?: { warn(message: string): void };
}

/** A pulled op whose hybrid is too far ahead of our wall clock for the receive rule. */
export interface DriftWarning {
  offset: string;
  node: string;
  hybrid: string;
  /** How far the op's physical time is ahead of our wall clock. */
  driftMs: number;
}

export interface PushReport {
  /** Ops acknowledged by the ingest (202) in this call. */
  pushed: number;
  batches: number;
}

export interface PullReport {
  /** Feed entries received. */
  pulled: number;
  /** Of those, ops of other nodes that were new here (own ops coming back are not counted). */
  applied: number;
  pages: number;
  /** Feed offset the node's replica is complete through. */
  cursor: string | null;
  /**
   * Own ops the ingest acknowledged that the feed, read past their offset, does not hold: the
   * projector rejected them (GET /libraries/{id}/rejected says why). Gone from the local state.
   */
  rejectedByServer: Operation[];
  /**
   * Ops more than maxDriftMs ahead of our wall clock. They are applied (the server accepted
   * them), but the clock does not follow them, or our next ops would be refused as drifting.
   */
  driftWarnings: DriftWarning[];
  /**
   * Set when the server answered 410 SNAPSHOT_REQUIRED (its op log was compacted past our
   * position) and the node re-bootstrapped from the snapshot before pulling on.
   */
  rebootstrap?: RebootstrapReport;
}

export interface RebootstrapReport {
  /** Offset of the snapshot the confirmed state was replaced with. */
  offset: string | null;
  /** The server's compaction horizon from the 410 answer, when it gave one. */
  horizon: string | null;
  /**
   * Own acknowledged ops at or below the snapshot's offset, dropped from the local layer: the
   * snapshot holds their effect if the server accepted them, but carries no op identities, so
   * whether it did cannot be told (they are not reported in rejectedByServer).
   */
  settledBySnapshot: Operation[];
}

export type SyncReport = PushReport &
  PullReport & {
    /**
     * The local state's digest equals the server's `digest?asOf=<cursor>`: true or false; null
     * when it cannot be compared (ops not yet sent or confirmed, nothing pulled yet, or a
     * transport without digest()). A mismatch is logged with per-model counts.
     */
    verified: boolean | null;
  };

/** Where a long sync stands, e.g. for a progress bar. */
export interface SyncProgress {
  /** `snapshot`: lines of the snapshot read; `feed`: feed entries pulled and merged. */
  phase: 'snapshot' | 'feed';
  done: number;
  /** null while unknown (a streamed snapshot tells its size only at its end line). */
  total: number | null;
}

export interface ProgressOptions {
  onProgress?: (progress: SyncProgress) => void;
}

export interface TypedRecord<M extends ModelTypes, K extends ModelName<M>> {
  id: string;
  model: K;
  data: M[K];
}

export interface TypedRelation<R extends RelationTypes, K extends RelationName<R>> {
  relation: K;
  item: string;
  group: string;
  data: R[K];
}

interface LocalEntry {
  op: Operation;
  /** lastOffset of the acknowledging push; null while in the outbox. */
  ackOffset: bigint | null;
}

/**
 * One node (device) of one library: its hybrid logical clock, its local replica (the same merge
 * engine as the server), its outbox, and sync with the service through a SyncTransport.
 *
 * Local edits apply at once (optimistically) and wait in the outbox; sync() pushes them and pulls
 * the op feed from where the last pull stopped. Since the merged state depends only on the set
 * of ops, every node ends up with the server's state once all have synced.
 */
export class SyncNode<
  M extends ModelTypes = DefaultModels,
  R extends RelationTypes = DefaultRelations,
> {
  private local: LocalEntry[];
  private cursor: bigint | null;
  private readonly syncLock = new Mutex();
  /** Node ids of pulled ops, one string each: every clock and owner merged from them shares it. */
  private readonly feedNodes = new ClockInterner();
  private readonly journalSaves: SaveQueue;
  private readonly replicaSaves: SaveQueue;
  /** The store holds a replica that changes can be appended to, with this many rows appended. */
  private replicaSaved: boolean;
  private appendedRows = 0;

  private constructor(
    readonly nodeId: string,
    readonly libraryId: string,
    readonly schema: Schema,
    private readonly transport: SyncTransport,
    private readonly store: LocalStore,
    private readonly clock: HybridLogicalClock,
    private readonly replica: LocalReplica,
    local: LocalEntry[],
    cursor: bigint | null,
    replicaSaved: boolean,
    private readonly settings: Required<
      Pick<
        SyncNodeOptions,
        'pushBatchSize' | 'pullPageSize' | 'readYourWritesWaitMs' | 'checkpointPages' | 'logger'
      >
    >,
  ) {
    this.local = local;
    this.cursor = cursor;
    this.replicaSaved = replicaSaved;
    this.replica.setLocal(local.map((e) => e.op));
    this.journalSaves = new SaveQueue(() => this.store.saveJournal(this.journalSnapshot()));
    this.replicaSaves = new SaveQueue(() => this.saveReplica());
  }

  /** Opens (or creates) the node's state in `store` for one library. */
  static async open<
    M extends ModelTypes = DefaultModels,
    R extends RelationTypes = DefaultRelations,
  >(options: SyncNodeOptions): Promise<SyncNode<M, R>> {
    const libraryId = normalizeUuid(options.libraryId);
    if (libraryId === null) throw new RangeError(`libraryId must be a UUID: ${options.libraryId}`);
    const store = options.store ?? new MemoryStore();
    const stored = await store.load();
    const journal = stored.journal;
    const replica = stored.replica;
    for (const part of [journal, replica]) {
      if (part !== undefined && !READABLE_STORE_FORMATS.includes(part.version)) {
        throw new SyncClientError(`store format ${String(part.version)} is not supported`);
      }
    }
    if (journal !== undefined && journal.libraryId !== libraryId) {
      throw new SyncClientError(
        `the store belongs to library ${journal.libraryId}, not ${libraryId}`,
      );
    }
    const requested = options.nodeId === undefined ? undefined : normalizeUuid(options.nodeId);
    if (requested === null) throw new RangeError(`nodeId must be a UUID: ${options.nodeId}`);
    if (journal !== undefined && requested !== undefined && requested !== journal.nodeId) {
      throw new SyncClientError(`the store belongs to node ${journal.nodeId}, not ${requested}`);
    }
    const nodeId = journal?.nodeId ?? requested ?? crypto.randomUUID();
    const now = options.now ?? Date.now;
    const clock = new HybridLogicalClock({
      node: nodeId,
      wallClock: () => hybridFromMillis(now()),
      maxDriftMs: options.maxDriftMs ?? DEFAULT_MAX_DRIFT_MS,
      initial: journal === undefined ? 0n : BigInt(journal.clock),
    });
    const schema = options.schema ?? defaultSchema();
    const node = new SyncNode<M, R>(
      nodeId,
      libraryId,
      schema,
      options.transport,
      store,
      clock,
      new LocalReplica(
        schema,
        replica === undefined ? emptySlice() : decodeSlice(replica.slice),
        nodeId,
      ),
      (journal?.local ?? []).map((e) => ({
        op: e.op,
        ackOffset: e.ackOffset === null ? null : BigInt(e.ackOffset),
      })),
      replica?.cursor == null ? null : BigInt(replica.cursor),
      replica !== undefined,
      {
        pushBatchSize: pageSize(options.pushBatchSize, 'pushBatchSize', MAX_PAGE, MAX_PAGE),
        pullPageSize: pageSize(options.pullPageSize, 'pullPageSize', MAX_PAGE, MAX_PULL_PAGE),
        readYourWritesWaitMs: options.readYourWritesWaitMs ?? 5000,
        checkpointPages: Math.max(1, options.checkpointPages ?? 10),
        logger: options.logger ?? console,
      },
    );
    if (journal === undefined) await node.journalSaves.save();
    return node;
  }

  // ---- building ops -------------------------------------------------------------------------

  /** CREATE a record (a new random id unless given). */
  async create<K extends ModelName<M>>(
    model: K,
    data: Partial<M[K]> = {},
    options: { id?: string } = {},
  ): Promise<RecordCreate> {
    const recordId = options.id ?? crypto.randomUUID();
    const [op] = await this.write([{ type: 'CREATE', recordId, model, data: json(data) }]);
    return op as RecordCreate;
  }

  /** One UPDATE per changed field (a field set to undefined is left alone). */
  async update<K extends ModelName<M>>(
    model: K,
    recordId: string,
    changes: Partial<M[K]>,
  ): Promise<RecordUpdate[]> {
    const drafts = Object.entries(json(changes)).map(([field, value]): OperationDraft => ({
      type: 'UPDATE',
      recordId,
      model,
      field,
      value,
    }));
    return (await this.write(drafts)) as RecordUpdate[];
  }

  async delete<K extends ModelName<M>>(model: K, recordId: string): Promise<RecordDelete> {
    const [op] = await this.write([{ type: 'DELETE', recordId, model }]);
    return op as RecordDelete;
  }

  /** CREATE a relation (relationItem = item, relationGroup = group). */
  async link<K extends RelationName<R>>(
    relation: K,
    item: string,
    group: string,
    data: Partial<R[K]> = {},
  ): Promise<RelationCreate> {
    const [op] = await this.write([
      { type: 'CREATE', relation, relationItem: item, relationGroup: group, data: json(data) },
    ]);
    return op as RelationCreate;
  }

  async updateLink<K extends RelationName<R>>(
    relation: K,
    item: string,
    group: string,
    changes: Partial<R[K]>,
  ): Promise<RelationUpdate[]> {
    const drafts = Object.entries(json(changes)).map(([field, value]): OperationDraft => ({
      type: 'UPDATE',
      relation,
      relationItem: item,
      relationGroup: group,
      field,
      value,
    }));
    return (await this.write(drafts)) as RelationUpdate[];
  }

  async unlink<K extends RelationName<R>>(
    relation: K,
    item: string,
    group: string,
  ): Promise<RelationDelete> {
    const [op] = await this.write([
      { type: 'DELETE', relation, relationItem: item, relationGroup: group },
    ]);
    return op as RelationDelete;
  }

  /**
   * Stamps drafts with this node and the send rule of its clock, validates them against the
   * schema, checks them against the local replica with the merge engine, applies them locally
   * and queues them, all or nothing. Resolves once the outbox is saved.
   * Throws LocalValidationError / LocalRejectionError (and queues nothing) when the server would
   * refuse or reject them.
   */
  async write(drafts: readonly OperationDraft[]): Promise<Operation[]> {
    if (drafts.length === 0) return [];
    const ops: Operation[] = [];
    const issues: (ValidationIssue & { index: number })[] = [];
    drafts.forEach((draft, index) => {
      const hybrid = formatHybrid(this.clock.now());
      const checked = validateOperation(
        { ...draft, node: this.nodeId, timestamp: { hybrid } },
        this.schema,
      );
      if (checked.ok) ops.push(checked.op);
      else for (const issue of checked.errors) issues.push({ index, ...issue });
    });
    if (issues.length > 0) throw new LocalValidationError(issues);
    const merged = this.replica.tryLocal(ops);
    if (merged.rejections.length > 0) {
      throw new LocalRejectionError(
        merged.rejections.map(({ reason, message }) => ({ reason, message })),
      );
    }
    for (const op of ops) this.local.push({ op, ackOffset: null });
    await this.journalSaves.save();
    return ops;
  }

  // ---- reading the local state ---------------------------------------------------------------

  /** Visible records (local edits included), ordered by id; only one model's when given. */
  records(): RecordView[];
  records<K extends ModelName<M>>(model: K): TypedRecord<M, K>[];
  records(model?: string): RecordView[] {
    return this.replica.records(model);
  }

  /** A visible record, or undefined (also when `model` is given and the record is another). */
  record(recordId: string): RecordView | undefined;
  record<K extends ModelName<M>>(recordId: string, model: K): TypedRecord<M, K> | undefined;
  record(recordId: string, model?: string): RecordView | undefined {
    const view = this.replica.record(recordId.toLowerCase());
    return model === undefined || view?.model === model ? view : undefined;
  }

  /** Visible relations, optionally filtered, ordered by (relation, item, group). */
  relations(): RelationView[];
  relations<K extends RelationName<R>>(
    filter: RelationFilter & { relation: K },
  ): TypedRelation<R, K>[];
  relations(filter: RelationFilter): RelationView[];
  relations(filter: RelationFilter = {}): RelationView[] {
    return this.replica.relations({
      relation: filter.relation,
      item: filter.item?.toLowerCase(),
      group: filter.group?.toLowerCase(),
    });
  }

  /** Everything visible locally, in the query service's order and shapes. */
  state(): MaterializedState {
    return this.replica.state();
  }

  /**
   * The state digest of CONTRACT.md section 8 over state(). With nothing unsent or unconfirmed
   * it equals the server's `GET /libraries/{id}/digest?asOf=<pulledThrough>`.
   */
  digest(): StateDigestResult {
    return this.replica.digest();
  }

  /** The server's state as of the last pull (the local state without unconfirmed own ops). */
  confirmedState(): MaterializedState {
    return this.replica.confirmedState();
  }

  /** Own ops not yet acknowledged by the ingest. */
  outbox(): Operation[] {
    return this.local.filter((e) => e.ackOffset === null).map((e) => e.op);
  }

  /** Own ops acknowledged by the ingest but not yet seen in the pulled feed. */
  unconfirmed(): Operation[] {
    return this.local.filter((e) => e.ackOffset !== null).map((e) => e.op);
  }

  /** Feed offset the local replica is complete through; null before the first pull. */
  get pulledThrough(): string | null {
    return this.cursor === null ? null : this.cursor.toString();
  }

  /** The clock's last value (decimal NTP64), e.g. to compare with a remote hybrid. */
  clockValue(): string {
    return formatHybrid(this.clock.current());
  }

  // ---- sync ----------------------------------------------------------------------------------

  /** Pushes the outbox, then pulls the feed (reading our own writes); one sync at a time. */
  sync(options: ProgressOptions = {}): Promise<SyncReport> {
    return this.syncLock.run(async () => {
      const pushed = await this.pushOutbox();
      const pulled = await this.pullFeed(options);
      return { ...pushed, ...pulled, verified: await this.verify() };
    });
  }

  /**
   * Sends the outbox in batches of at most pushBatchSize ops, in the order they were made. A
   * batch that fails (after the transport's retries) stays in the outbox, as does everything
   * after it; the error is thrown. Acknowledged batches are saved as such at once.
   */
  push(): Promise<PushReport> {
    return this.syncLock.run(() => this.pushOutbox());
  }

  /** Pulls the feed from the last pulled offset, applying every op through the receive rule. */
  pull(options: ProgressOptions = {}): Promise<PullReport> {
    return this.syncLock.run(() => this.pullFeed(options));
  }

  /**
   * Drops ops from the outbox (all, or those matching), e.g. a batch the server keeps refusing
   * with 422 because its schema differs. Their local effect disappears. Returns what was dropped.
   */
  discardOutbox(match: (op: Operation) => boolean = () => true): Promise<Operation[]> {
    return this.syncLock.run(async () => {
      const dropped = this.local.filter((e) => e.ackOffset === null && match(e.op));
      if (dropped.length === 0) return [];
      this.local = this.local.filter((e) => !dropped.includes(e));
      this.replica.setLocal(this.local.map((e) => e.op));
      await this.journalSaves.save();
      return dropped.map((e) => e.op);
    });
  }

  /**
   * Starts a node that has never pulled from the server's snapshot instead of replaying the whole
   * feed: the confirmed layer becomes the snapshot's state (with field clocks, owners, deleted
   * records and pending ops, so merging continues exactly), the cursor its offset, and the clock
   * takes the receive rule for the library's greatest hybrid. The next pull() continues after
   * that offset. Needs a transport with snapshot() (SyncHttpTransport has it). Refused once the
   * node has pulled or has ops the ingest acknowledged (they could not be confirmed against a
   * snapshot, which carries no op identities); edits still in the outbox are fine.
   */
  bootstrapFromSnapshot(
    options: ProgressOptions = {},
  ): Promise<{ offset: string | null; records: number; relations: number }> {
    return this.syncLock.run(async () => {
      if (this.cursor !== null) throw new SyncClientError('the node has already pulled the feed');
      if (this.local.some((e) => e.ackOffset !== null)) {
        throw new SyncClientError('the node has pushed ops; pull() instead of bootstrapping');
      }
      const snapshot = await this.fetchSnapshot(options);
      if (snapshot.clock !== null) this.clock.update(snapshot.clock);
      this.replica.resetConfirmed(snapshot.slice);
      this.cursor = snapshot.offset;
      await this.replicaSaves.save();
      await this.journalSaves.save();
      return {
        offset: snapshot.header.offset,
        records: snapshot.slice.records.size,
        relations: snapshot.slice.relations.size,
      };
    });
  }

  /** Waits for pending saves to the store (e.g. before exiting). */
  async flush(): Promise<void> {
    await this.replicaSaves.idle();
    await this.journalSaves.idle();
  }

  private async pushOutbox(): Promise<PushReport> {
    // Only what is queued now: edits made while pushing wait for the next sync.
    const queued = this.local.filter((e) => e.ackOffset === null);
    let pushed = 0;
    let batches = 0;
    for (let start = 0; start < queued.length; start += this.settings.pushBatchSize) {
      const batch = queued.slice(start, start + this.settings.pushBatchSize);
      const result = await this.transport.push(
        this.libraryId,
        batch.map((e) => e.op),
      );
      if (result.accepted !== batch.length) {
        throw new SyncProtocolError(
          `ingest accepted ${result.accepted} of a batch of ${batch.length} ops`,
        );
      }
      for (const entry of batch) entry.ackOffset = result.lastOffset;
      pushed += batch.length;
      batches++;
      await this.journalSaves.save();
    }
    return { pushed, batches };
  }

  /**
   * The server's snapshot, fully read and checked before anything local changes: a cut stream
   * throws and leaves the node as it was.
   */
  private async fetchSnapshot({ onProgress }: ProgressOptions): Promise<SnapshotContents> {
    const fetch = this.transport.snapshot?.bind(this.transport);
    if (fetch === undefined) throw new SyncClientError('this transport cannot fetch snapshots');
    const snapshot = await fetch(this.libraryId, {
      onProgress: onProgress && ((done) => onProgress({ phase: 'snapshot', done, total: null })),
    });
    if (snapshot.header.libraryId !== this.libraryId) {
      throw new SyncProtocolError(`snapshot of library ${snapshot.header.libraryId}`);
    }
    onProgress?.({ phase: 'snapshot', done: snapshot.lines, total: snapshot.lines });
    return snapshot;
  }

  private async pullFeed({ onProgress }: ProgressOptions): Promise<PullReport> {
    // Our acknowledged ops are at or below this offset: wait until the server applied them.
    let minOffset: bigint | undefined;
    for (const { ackOffset } of this.local) {
      if (ackOffset === null || (this.cursor !== null && ackOffset <= this.cursor)) continue;
      if (minOffset === undefined || ackOffset > minOffset) minOffset = ackOffset;
    }
    const report: PullReport = {
      pulled: 0,
      applied: 0,
      pages: 0,
      cursor: null,
      rejectedByServer: [],
      driftWarnings: [],
    };
    let after = this.cursor;
    // The next page, asked for before merging this one: the server reads while we merge.
    let next: Promise<FeedPage> | undefined;
    for (;;) {
      let page: FeedPage;
      try {
        page = await (next ??
          this.transport.pull(this.libraryId, {
            after,
            limit: this.settings.pullPageSize,
            node: this.nodeId,
            ...(report.pages === 0 && minOffset !== undefined
              ? { minOffset, waitMs: this.settings.readYourWritesWaitMs }
              : {}),
          }));
      } catch (error) {
        next = undefined;
        // Once per pull: a snapshot is never behind the horizon, so a second 410 is a real fault.
        if (!isSnapshotRequired(error) || report.rebootstrap !== undefined) throw error;
        if (this.transport.snapshot === undefined) throw error;
        report.rebootstrap = await this.rebootstrap(error, { onProgress });
        after = this.cursor;
        continue;
      }
      next = undefined;
      report.pages++;
      if (page.items.length === 0) break;
      if (page.nextCursor !== null) {
        next = this.transport.pull(this.libraryId, {
          after: page.items[page.items.length - 1].offset,
          limit: this.settings.pullPageSize,
          node: this.nodeId,
        });
        // Awaited (and its failure thrown) on the next turn, unless this page fails first.
        next.catch(() => undefined);
        await letRequestLeave();
      }
      const batch = this.checkPage(page.items, after);
      for (const logged of batch) this.receive(logged, report.driftWarnings);
      const merged = this.replica.applyFeed(batch);
      report.applied += merged.accepted.filter(({ op }) => op.node !== this.nodeId).length;
      report.pulled += batch.length;
      after = batch[batch.length - 1].offset;
      // The replica now holds everything through `after`; a failure below must not pull it twice.
      this.cursor = after;
      onProgress?.({ phase: 'feed', done: report.pulled, total: null });
      if (page.nextCursor === null) break;
      if (report.pages % this.settings.checkpointPages === 0) await this.replicaSaves.save();
    }
    // The server had applied through minOffset when it answered: nothing up to there is missing.
    if (minOffset !== undefined && (after === null || after < minOffset)) after = minOffset;
    this.cursor = after;
    report.cursor = after === null ? null : after.toString();
    report.rejectedByServer = this.settleLocal();
    await this.replicaSaves.save();
    await this.journalSaves.save();
    return report;
  }

  /**
   * The feed was compacted past our position: replace the confirmed layer with the server's
   * snapshot (as bootstrapFromSnapshot does) and continue after its offset. The outbox and own
   * ops acknowledged after the snapshot's offset stay; those at or below it are in the snapshot
   * if the server accepted them, and leave the local layer.
   */
  private async rebootstrap(
    answer: SyncApiError,
    progress: ProgressOptions,
  ): Promise<RebootstrapReport> {
    const snapshot = await this.fetchSnapshot(progress);
    if (snapshot.clock !== null) this.clock.update(snapshot.clock);
    this.replica.resetConfirmed(snapshot.slice);
    this.cursor = snapshot.offset;
    const covered = (entry: LocalEntry) =>
      entry.ackOffset !== null && snapshot.offset !== null && entry.ackOffset <= snapshot.offset;
    const settled = this.local.filter(covered);
    this.local = this.local.filter((entry) => !covered(entry));
    this.replica.setLocal(this.local.map((e) => e.op));
    await this.replicaSaves.save();
    await this.journalSaves.save();
    const detail = answer.details[0];
    const horizon = detail?.['horizon'];
    return {
      offset: snapshot.header.offset,
      horizon: typeof horizon === 'string' ? horizon : null,
      settledBySnapshot: settled.map((e) => e.op),
    };
  }

  /** Validates a feed page: well-formed ops, offsets strictly increasing past `after`. */
  private checkPage(
    items: readonly { offset: bigint; operation: unknown }[],
    after: bigint | null,
  ): LoggedOperation[] {
    let previous = after;
    return items.map(({ offset, operation }) => {
      if (previous !== null && offset <= previous) {
        throw new SyncProtocolError(`feed offset ${offset} does not follow ${previous}`);
      }
      previous = offset;
      // Shape only: schema problems are the merge engine's to judge, as on the server.
      const checked = validateOperation(operation, null, { checkSchema: false });
      if (!checked.ok) {
        const why = checked.errors.map((e) => `${e.path || '(op)'} ${e.message}`).join('; ');
        throw new SyncProtocolError(`feed entry at offset ${offset} is not a valid op: ${why}`);
      }
      checked.op.node = this.feedNodes.node(checked.op.node);
      return { offset, op: checked.op };
    });
  }

  /** Compares digest() with the server's as of our cursor (see SyncReport.verified). */
  private async verify(): Promise<boolean | null> {
    const cursor = this.cursor;
    if (cursor === null || this.local.length > 0 || this.transport.digest === undefined) {
      return null;
    }
    const local = this.digest();
    const server = await this.transport.digest(this.libraryId, cursor);
    if (server.digest === local.digest) return true;
    const counts = (state: MaterializedState): Map<string, number> => {
      const byName = new Map<string, number>();
      for (const r of state.records) byName.set(r.model, (byName.get(r.model) ?? 0) + 1);
      for (const r of state.relations) byName.set(r.relation, (byName.get(r.relation) ?? 0) + 1);
      return byName;
    };
    const mine = counts(this.replica.state());
    const theirs =
      this.transport.stateAsOf === undefined
        ? undefined
        : counts(await this.transport.stateAsOf(this.libraryId, cursor));
    const names = [...new Set([...mine.keys(), ...(theirs?.keys() ?? [])])].sort();
    const perModel = names
      .map((name) => `${name} ${mine.get(name) ?? 0}/${theirs?.get(name) ?? '?'}`)
      .join(', ');
    this.settings.logger.warn(
      `library ${this.libraryId}: local state differs from the server's as of offset ${cursor}: ` +
        `${local.digest} (${local.records} records, ${local.relations} relations) vs ` +
        `${server.digest} (${server.records} records, ${server.relations} relations); ` +
        `per model local/server: ${perModel}`,
    );
    return false;
  }

  /** HLC receive rule for one pulled op; a drifting op is reported, not refused. */
  private receive(logged: LoggedOperation, warnings: DriftWarning[]): void {
    const { op, offset } = logged;
    const result = this.clock.update(BigInt(op.timestamp.hybrid));
    if (!result.ok) {
      warnings.push({
        offset: offset.toString(),
        node: op.node,
        hybrid: op.timestamp.hybrid,
        driftMs: result.driftMs,
      });
    }
  }

  /**
   * Drops own ops the feed is now complete past: each is either in the confirmed replica or was
   * rejected by the server (returned). The local layer is rebuilt over the new confirmed state.
   */
  private settleLocal(): Operation[] {
    const cursor = this.cursor;
    const rejected: Operation[] = [];
    const keep: LocalEntry[] = [];
    for (const entry of this.local) {
      if (entry.ackOffset === null || cursor === null || entry.ackOffset > cursor) {
        keep.push(entry);
      } else if (!this.replica.isConfirmed(entry.op)) {
        rejected.push(entry.op);
      }
    }
    this.local = keep;
    this.replica.setLocal(keep.map((e) => e.op));
    return rejected;
  }

  private journalSnapshot(): StoredJournal {
    return {
      version: STORE_FORMAT_VERSION,
      nodeId: this.nodeId,
      libraryId: this.libraryId,
      clock: this.clock.current().toString(),
      local: this.local.map((e) => ({
        op: e.op,
        ackOffset: e.ackOffset === null ? null : e.ackOffset.toString(),
      })),
    };
  }

  /**
   * Saves the confirmed replica: only the rows changed since the last save when the store can
   * append them, whole when it cannot, after a bootstrap, after a failed save, or once the
   * appended rows outnumber the replica's (compaction: loading stays linear in its size).
   */
  private async saveReplica(): Promise<void> {
    const changed = this.replica.takeConfirmedChanges();
    const cursor = this.cursor === null ? null : this.cursor.toString();
    try {
      const header: StoredReplicaHeader = { version: STORE_FORMAT_VERSION, cursor };
      const slice = this.replica.confirmedSlice;
      // Rows encoded as the store writes them: every caller awaits the save before merging on.
      if (this.store.appendReplica !== undefined && this.replicaSaved && changed !== 'all') {
        const size = changedRows(changed);
        if (this.appendedRows + size <= Math.max(COMPACT_MIN_ROWS, this.replica.confirmedRows)) {
          await (this.store.appendReplicaRows === undefined
            ? this.store.appendReplica({ ...header, changes: encodeSliceChange(slice, changed) })
            : this.store.appendReplicaRows(header, encodeSliceChangeRows(slice, changed)));
          this.appendedRows += size;
          return;
        }
      }
      this.replicaSaved = false;
      await (this.store.saveReplicaRows === undefined
        ? this.store.saveReplica({ ...header, slice: encodeSlice(slice) })
        : this.store.saveReplicaRows(header, encodeSliceRows(slice)));
      this.replicaSaved = true;
      this.appendedRows = 0;
    } catch (error) {
      // What this save took is not known to be stored: the next one saves everything.
      this.replicaSaved = false;
      throw error;
    }
  }
}

/**
 * Lets a request just made leave before a long synchronous merge: node:http (nodeFetch) writes
 * it on the next tick, so without a turn of the event loop the server would only start on the
 * next page once this one is merged. Browsers send from their own network stack.
 */
function letRequestLeave(): Promise<void> {
  return typeof setImmediate === 'function'
    ? new Promise((resolve) => setImmediate(resolve))
    : Promise.resolve();
}

function isSnapshotRequired(error: unknown): error is SyncApiError {
  return error instanceof SyncApiError && error.code === 'SNAPSHOT_REQUIRED';
}

function pageSize(value: number | undefined, name: string, fallback: number, max: number): number {
  const size = value ?? fallback;
  if (!Number.isInteger(size) || size < 1 || size > max) {
    throw new RangeError(`${name} must be an integer from 1 to ${max}: ${value}`);
  }
  return size;
}

/** Drops undefined values (Partial<> fields left out); the rest must be JSON already. */
function json(values: Partial<Record<string, JsonValue>>): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(values)) {
    if (value !== undefined) out[key] = value;
  }
  return out;
}
