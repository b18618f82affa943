import {
  type AcceptedIdentity,
  type LibrarySlice,
  type LoggedOperation,
  type MergeResult,
  type RecordState,
  type RelationState,
  type Schema,
  emptySlice,
  identityKey,
  mergeBatch,
  opIdentityKey,
  relationKey,
  touchedKeys,
} from '../protocol';
import { PackedRecords } from './packed-records';

/** Row access to a library slice, so a batch can be merged over a layered view. */
export interface SliceRows {
  record(id: string): RecordState | undefined;
  pending(id: string): LoggedOperation[] | undefined;
  relation(key: string): RelationState | undefined;
  accepted(identity: string): AcceptedIdentity | undefined;
}

export interface WritableSliceRows extends SliceRows {
  setRecord(id: string, row: RecordState): void;
  /** undefined: the record has no pending ops any more. */
  setPending(id: string, rows: LoggedOperation[] | undefined): void;
  setRelation(key: string, row: RelationState): void;
  /** undefined: the identity is no longer accepted (a pending op was revoked). */
  setAccepted(identity: string, row: AcceptedIdentity | undefined): void;
}

/** Keys of the rows a slice table wrote: records, relations, pending lists, identities. */
export interface SliceChanges {
  records: Set<string>;
  relations: Set<string>;
  pending: Set<string>;
  accepted: Set<string>;
}

const emptyChanges = (): SliceChanges => ({
  records: new Set(),
  relations: new Set(),
  pending: new Set(),
  accepted: new Set(),
});

/**
 * A whole slice, updated in place (rows themselves are never mutated, only replaced), its
 * records kept packed (PackedRecords).
 *
 * With `ownNode`, the table keeps accepted identities only where something still reads them:
 * the node's own ops (isConfirmed, and the engine's D1 check of the node's next ops, whose
 * identities can only collide with its own) and ops kept pending (a CREATE rejecting them
 * revokes them by identity). An op of another node that was merged from the feed is never
 * merged again (the feed lists each op once, and pulls resume after the last offset merged), so
 * its identity would only cost memory: one entry per op ever pulled.
 */
export class SliceTable implements WritableSliceRows {
  /** Keys written since the last takeChanges(), for incremental saves. */
  private changed = emptyChanges();
  private readonly pendingIdentities = new Set<string>();
  private readonly ownPrefix: string | undefined;
  readonly slice: LibrarySlice;

  constructor(slice: LibrarySlice = emptySlice(), ownNode?: string) {
    // Records packed (see PackedRecords); the caller's slice is not changed.
    this.slice =
      slice.records instanceof PackedRecords
        ? slice
        : { ...slice, records: new PackedRecords(slice.records) };
    this.ownPrefix = ownNode === undefined ? undefined : identityKey(ownNode, '');
    for (const list of slice.pending.values()) this.trackPending(list, true);
  }

  record(id: string) {
    return this.slice.records.get(id);
  }
  pending(id: string) {
    return this.slice.pending.get(id);
  }
  relation(key: string) {
    return this.slice.relations.get(key);
  }
  accepted(identity: string) {
    return this.slice.accepted.get(identity);
  }
  setRecord(id: string, row: RecordState): void {
    this.slice.records.set(id, row);
    this.changed.records.add(id);
  }
  setPending(id: string, rows: LoggedOperation[] | undefined): void {
    this.changed.pending.add(id);
    const previous = this.slice.pending.get(id);
    if (previous !== undefined) this.trackPending(previous, false);
    if (rows === undefined) this.slice.pending.delete(id);
    else {
      this.slice.pending.set(id, rows);
      this.trackPending(rows, true);
    }
  }
  setRelation(key: string, row: RelationState): void {
    this.slice.relations.set(key, row);
    this.changed.relations.add(key);
  }
  setAccepted(identity: string, row: AcceptedIdentity | undefined): void {
    if (row === undefined) this.slice.accepted.delete(identity);
    else if (this.retains(identity)) this.slice.accepted.set(identity, identityData(row));
    else return;
    this.changed.accepted.add(identity);
  }

  /** The keys written since the last call (each row's current value is in `slice`). */
  takeChanges(): SliceChanges {
    const changed = this.changed;
    this.changed = emptyChanges();
    return changed;
  }

  private retains(identity: string): boolean {
    return (
      this.ownPrefix === undefined ||
      identity.startsWith(this.ownPrefix) ||
      this.pendingIdentities.has(identity)
    );
  }

  private trackPending(list: readonly LoggedOperation[], add: boolean): void {
    if (this.ownPrefix === undefined) return;
    for (const { op } of list) {
      if (add) this.pendingIdentities.add(opIdentityKey(op));
      else this.pendingIdentities.delete(opIdentityKey(op));
    }
  }
}

/**
 * Sparse rows over a base: a row set here hides the base's row, including "no row" (a pending
 * list that was resolved, an identity that was revoked). The base is never written.
 */
export class OverlayTable implements WritableSliceRows {
  readonly records = new Map<string, RecordState>();
  readonly pendingRows = new Map<string, LoggedOperation[] | undefined>();
  readonly relations = new Map<string, RelationState>();
  readonly acceptedRows = new Map<string, AcceptedIdentity | undefined>();

  constructor(private readonly base: SliceRows) {}

  record(id: string) {
    return this.records.get(id) ?? this.base.record(id);
  }
  pending(id: string) {
    return this.pendingRows.has(id) ? this.pendingRows.get(id) : this.base.pending(id);
  }
  relation(key: string) {
    return this.relations.get(key) ?? this.base.relation(key);
  }
  accepted(identity: string) {
    return this.acceptedRows.has(identity)
      ? this.acceptedRows.get(identity)
      : this.base.accepted(identity);
  }
  setRecord(id: string, row: RecordState): void {
    this.records.set(id, row);
  }
  setPending(id: string, rows: LoggedOperation[] | undefined): void {
    this.pendingRows.set(id, rows);
  }
  setRelation(key: string, row: RelationState): void {
    this.relations.set(key, row);
  }
  setAccepted(identity: string, row: AcceptedIdentity | undefined): void {
    this.acceptedRows.set(identity, row && identityData(row));
  }
}

/**
 * A kept identity as plain data: hashed now (mergeRows merges with lazyHashes, whose entries
 * hash when read and hold their op meanwhile).
 */
function identityData(row: AcceptedIdentity): AcceptedIdentity {
  return { offset: row.offset, contentHash: row.contentHash };
}

/**
 * mergeBatch over just the rows the batch touches (as the projector does with the database), so
 * the cost is the batch's size, not the library's. `commit` decides, after seeing the result,
 * whether to write the new rows back.
 */
export function mergeRows(
  schema: Schema,
  rows: WritableSliceRows,
  batch: readonly LoggedOperation[],
  commit: (result: MergeResult) => boolean = () => true,
): MergeResult {
  const keys = touchedKeys(batch);
  const sub = emptySlice();
  const relationKeys = keys.relationKeys.map((k) => relationKey(k.relation, k.item, k.group));
  const identities = new Set(keys.identities.map((i) => identityKey(i.node, i.hybrid)));
  for (const id of keys.recordIds) {
    const record = rows.record(id);
    if (record !== undefined) sub.records.set(id, record);
    const pending = rows.pending(id);
    if (pending === undefined) continue;
    sub.pending.set(id, pending);
    // A pending op of an earlier batch that this batch's CREATE rejects loses its accepted
    // identity: touchedKeys does not name it, but its row must be loaded and written back.
    for (const { op } of pending) identities.add(opIdentityKey(op));
  }
  for (const key of relationKeys) {
    const relation = rows.relation(key);
    if (relation !== undefined) sub.relations.set(key, relation);
  }
  for (const identity of identities) {
    const accepted = rows.accepted(identity);
    if (accepted !== undefined) sub.accepted.set(identity, accepted);
  }
  // Lazy hashes: a slice table keeps few identities (see SliceTable), so most ops are never hashed.
  const result = mergeBatch(schema, sub, batch, { lazyHashes: true });
  if (!commit(result)) return result;
  const next = result.slice;
  for (const id of keys.recordIds) {
    const record = next.records.get(id);
    if (record !== undefined) rows.setRecord(id, record);
    if (next.pending.get(id) !== sub.pending.get(id)) rows.setPending(id, next.pending.get(id));
  }
  for (const key of relationKeys) {
    const relation = next.relations.get(key);
    if (relation !== undefined) rows.setRelation(key, relation);
  }
  for (const identity of identities) {
    if (next.accepted.get(identity) !== sub.accepted.get(identity)) {
      rows.setAccepted(identity, next.accepted.get(identity));
    }
  }
  return result;
}
