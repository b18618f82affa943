import {
  type LibrarySlice,
  type LoggedOperation,
  type MaterializedState,
  type MergeResult,
  type Operation,
  type RecordState,
  type RecordView,
  type RelationView,
  type Schema,
  type StateDigestResult,
  contentHash,
  isRecordVisible,
  isRelationVisible,
  materializeSlice,
  opIdentityKey,
  recordView,
  relationKey,
  relationView,
  sliceDigest,
} from '../protocol';
import { OverlayTable, type SliceChanges, SliceTable, mergeRows } from './slice-rows';

/**
 * Offsets given to the node's own unconfirmed ops when they are merged over the confirmed state:
 * after every real log offset (Kafka offsets are < 2^63), in the order the node made them. The
 * engine uses offsets only to order ops kept pending (R3) and for bookkeeping.
 */
export const LOCAL_OFFSET_BASE = 1n << 63n;

export interface RelationFilter {
  relation?: string;
  item?: string;
  group?: string;
}

/**
 * A node's copy of one library, in two layers:
 *
 * - confirmed: the server's op feed merged in log order with the same engine, hence exactly the
 *   server's state up to the pulled offset (including R4/R5 "first CREATE in log order" and
 *   ops rejected when their CREATE arrives);
 * - local: the node's own ops the feed has not confirmed yet, merged over the confirmed rows
 *   (optimistic). Rebuilt from the confirmed rows after every pull, so an op the server rejected
 *   disappears once the feed has passed it, instead of lingering as a local-only change.
 *
 * Reads see local over confirmed. Merging touches only the rows an op names.
 */
export class LocalReplica {
  private confirmed: SliceTable;
  private overlay: OverlayTable;
  private localOps: readonly Operation[] = [];
  private stale = false;
  private replaced = false;
  private cachedState: MaterializedState | undefined;

  /**
   * `ownNode`: the node this replica belongs to; the confirmed layer then keeps accepted
   * identities only of its own ops and of pending ones (see SliceTable).
   */
  constructor(
    readonly schema: Schema,
    confirmed: LibrarySlice,
    private readonly ownNode?: string,
  ) {
    this.confirmed = new SliceTable(confirmed, ownNode);
    this.overlay = new OverlayTable(this.confirmed);
  }

  /** The confirmed layer (the server's state as far as pulled); do not mutate. */
  get confirmedSlice(): LibrarySlice {
    return this.confirmed.slice;
  }

  /** Replaces the confirmed layer (bootstrap from a server snapshot). */
  resetConfirmed(slice: LibrarySlice): void {
    this.confirmed = new SliceTable(slice, this.ownNode);
    this.replaced = true;
    this.invalidate();
  }

  /**
   * Keys of the confirmed rows written since the last call, for an incremental save; 'all'
   * when the layer was replaced meanwhile (save it whole).
   */
  takeConfirmedChanges(): SliceChanges | 'all' {
    const changes = this.confirmed.takeChanges();
    if (!this.replaced) return changes;
    this.replaced = false;
    return 'all';
  }

  /** Rows in the confirmed layer (records, relations, pending lists, identities). */
  get confirmedRows(): number {
    const { records, relations, pending, accepted } = this.confirmed.slice;
    return records.size + relations.size + pending.size + accepted.size;
  }

  /** Merges feed entries (in log order) into the confirmed layer. */
  applyFeed(entries: readonly LoggedOperation[]): MergeResult {
    const result = mergeRows(this.schema, this.confirmed, entries);
    this.invalidate();
    return result;
  }

  /** Replaces the node's unconfirmed ops (after a pull settled some of them). */
  setLocal(ops: readonly Operation[]): void {
    this.localOps = [...ops];
    this.invalidate();
  }

  /**
   * Merges new local ops over the current view if the engine accepts all of them; returns the
   * merge result either way (check `rejections`). Accepted ops join the local layer.
   */
  tryLocal(ops: readonly Operation[]): MergeResult {
    this.refresh();
    const start = BigInt(this.localOps.length);
    const batch = ops.map((op, i) => ({ offset: LOCAL_OFFSET_BASE + start + BigInt(i), op }));
    const result = mergeRows(this.schema, this.overlay, batch, (r) => r.rejections.length === 0);
    if (result.rejections.length === 0) {
      this.localOps = [...this.localOps, ...ops];
      this.cachedState = undefined;
    }
    return result;
  }

  /** Whether the confirmed layer holds this exact op (same identity and content). */
  isConfirmed(op: Operation): boolean {
    return this.confirmed.accepted(opIdentityKey(op))?.contentHash === contentHash(op);
  }

  /** Visible state, local changes included: records by id, relations by (relation, item, group). */
  state(): MaterializedState {
    this.refresh();
    this.cachedState ??= materializeSlice(this.schema, this.viewSlice());
    return this.cachedState;
  }

  /** The state digest of state(), hashed view by view (no materialized copy is built or kept). */
  digest(): StateDigestResult {
    this.refresh();
    return sliceDigest(this.schema, this.viewSlice());
  }

  /** Visible state of the confirmed layer only: what the server showed at the pulled offset. */
  confirmedState(): MaterializedState {
    return materializeSlice(this.schema, this.confirmed.slice);
  }

  record(id: string): RecordView | undefined {
    this.refresh();
    const record = this.overlay.record(id);
    return isRecordVisible(record) ? recordView(this.schema, record) : undefined;
  }

  /** Raw state of a record, deleted ones included (model, owner, deleted flag). */
  recordState(id: string): RecordState | undefined {
    this.refresh();
    return this.overlay.record(id);
  }

  records(model?: string): RecordView[] {
    const all = this.state().records;
    return model === undefined ? all : all.filter((r) => r.model === model);
  }

  relations(filter: RelationFilter = {}): RelationView[] {
    return this.state().relations.filter(
      (r) =>
        (filter.relation === undefined || r.relation === filter.relation) &&
        (filter.item === undefined || r.item === filter.item) &&
        (filter.group === undefined || r.group === filter.group),
    );
  }

  /** Is the relation visible (L3) in the current view? */
  hasRelation(relation: string, item: string, group: string): boolean {
    this.refresh();
    const state = this.overlay.relation(relationKey(relation, item, group));
    return (
      state !== undefined &&
      isRelationVisible(this.schema, state, this.overlay.record(item), this.overlay.record(group))
    );
  }

  relationData(relation: string, item: string, group: string): RelationView | undefined {
    if (!this.hasRelation(relation, item, group)) return undefined;
    const state = this.overlay.relation(relationKey(relation, item, group));
    return state && relationView(this.schema, state);
  }

  private invalidate(): void {
    this.stale = true;
    this.cachedState = undefined;
  }

  /** Rebuilds the local layer over the current confirmed rows. */
  private refresh(): void {
    if (!this.stale) return;
    this.stale = false;
    this.overlay = new OverlayTable(this.confirmed);
    if (this.localOps.length === 0) return;
    const batch = this.localOps.map((op, i) => ({ offset: LOCAL_OFFSET_BASE + BigInt(i), op }));
    // Ops the engine now rejects (the server will too) simply have no effect here.
    mergeRows(this.schema, this.overlay, batch);
  }

  /** Confirmed rows with local rows on top, as one slice for materializeSlice. */
  private viewSlice(): LibrarySlice {
    const base = this.confirmed.slice;
    if (this.overlay.records.size === 0 && this.overlay.relations.size === 0) return base;
    const records = new Map(base.records);
    for (const [id, row] of this.overlay.records) records.set(id, row);
    const relations = new Map(base.relations);
    for (const [key, row] of this.overlay.relations) relations.set(key, row);
    return { records, relations, pending: base.pending, accepted: base.accepted };
  }
}
