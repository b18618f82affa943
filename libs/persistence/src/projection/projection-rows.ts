import {
  type Clock,
  type FieldWrite,
  type JsonObject,
  type JsonValue,
  type LibrarySlice,
  type LoggedOperation,
  type MergeResult,
  type Operation,
  type RecordState,
  type RelationState,
  type Schema,
  compactClocks,
  isRecordOp,
  recordView,
  relationKey,
  relationView,
} from '@sync/protocol';

/*
 * Row shapes the projector writes, and their conversion from merge-engine state. `data` holds every
 * declared field (null where unset) so readers can serve it as is; `clocks` holds only the fields
 * that were written, which is what tells "written null" from "never written" when loading back.
 */

/** Stored clock of one field write: [hybrid as decimal string, node]. */
export type StoredClock = [hybrid: string, node: string];

/** A `records` row as Postgres returns it (snake case), without its library id. */
export interface StoredRecordColumns {
  record_id: string;
  model: string;
  owner: string | null;
  deleted: boolean;
  data: Record<string, unknown>;
  clocks: Record<string, StoredClock>;
}

/** A `relations` row as Postgres returns it (snake case), without its library id. */
export interface StoredRelationColumns {
  relation: string;
  item_id: string;
  group_id: string;
  present: boolean;
  presence_clock: StoredClock;
  data: Record<string, unknown>;
  clocks: Record<string, StoredClock>;
}

export interface RecordRow {
  libraryId: string;
  recordId: string;
  model: string;
  owner: string | null;
  deleted: boolean;
  data: JsonObject;
  clocks: Record<string, StoredClock>;
  /** The same clocks as @sync/protocol's compact text (null where it cannot hold them). */
  compactClocks: string | null;
  updatedOffset: bigint;
  /** Known absent from storage (not in the slice the merge started from): a plain insert. */
  created?: boolean;
}

export interface RelationRow {
  libraryId: string;
  relation: string;
  itemId: string;
  groupId: string;
  present: boolean;
  presenceClock: StoredClock;
  data: JsonObject;
  clocks: Record<string, StoredClock>;
  updatedOffset: bigint;
  /** Known absent from storage (not in the slice the merge started from): a plain insert. */
  created?: boolean;
}

export interface OperationRow {
  libraryId: string;
  offset: bigint;
  node: string;
  hybrid: string;
  contentHash: string;
  operation: Operation;
}

export interface PendingRow {
  libraryId: string;
  offset: bigint;
  recordId: string;
  operation: Operation;
}

export interface RejectionRow {
  libraryId: string;
  offset: bigint;
  operation: Operation;
  reason: string;
  message: string;
}

/** A row addressed by (library, log offset). */
export interface OffsetRef {
  libraryId: string;
  offset: bigint;
}

/** What one batch adds to a library's counters. */
export interface LibraryDelta {
  libraryId: string;
  partition: number;
  /** Net change of ops in the feed (accepted minus revoked). */
  operations: number;
  rejected: number;
  firstOffset: bigint;
  lastOffset: bigint;
}

/** Everything a batch writes, for any number of libraries; written by ProjectionRepository.write. */
export interface ProjectionChanges {
  records: RecordRow[];
  relations: RelationRow[];
  pendingAdded: PendingRow[];
  pendingResolved: OffsetRef[];
  operations: OperationRow[];
  revoked: OffsetRef[];
  rejections: RejectionRow[];
  libraries: LibraryDelta[];
}

export function emptyChanges(): ProjectionChanges {
  return {
    records: [],
    relations: [],
    pendingAdded: [],
    pendingResolved: [],
    operations: [],
    revoked: [],
    rejections: [],
    libraries: [],
  };
}

export function toStoredClock(clock: Clock): StoredClock {
  return [clock.hybrid.toString(10), clock.node];
}

export function fromStoredClock(stored: StoredClock): Clock {
  return { hybrid: BigInt(stored[0]), node: stored[1] };
}

function storedClocks(fields: Record<string, FieldWrite>): Record<string, StoredClock> {
  const clocks: Record<string, StoredClock> = {};
  for (const name of Object.keys(fields)) clocks[name] = toStoredClock(fields[name].clock);
  return clocks;
}

/** Field registers from stored columns: a field counts as written iff it has a clock. */
export function fieldsFromStored(
  data: Record<string, unknown>,
  clocks: Record<string, StoredClock>,
): Record<string, FieldWrite> {
  const fields: Record<string, FieldWrite> = {};
  for (const name of Object.keys(clocks)) {
    const value = Object.hasOwn(data, name) ? (data[name] as JsonValue) : null;
    fields[name] = { value, clock: fromStoredClock(clocks[name]) };
  }
  return fields;
}

export function recordRow(
  schema: Schema,
  libraryId: string,
  record: RecordState,
  updatedOffset: bigint,
): RecordRow {
  return {
    libraryId,
    recordId: record.recordId,
    model: record.model,
    owner: record.owner,
    deleted: record.deleted,
    data: recordView(schema, record).data,
    clocks: storedClocks(record.fields),
    compactClocks: compactClocks(record.fields),
    updatedOffset,
  };
}

export function relationRow(
  schema: Schema,
  libraryId: string,
  relation: RelationState,
  updatedOffset: bigint,
): RelationRow {
  return {
    libraryId,
    relation: relation.relation,
    itemId: relation.item,
    groupId: relation.group,
    present: relation.presence.exists,
    presenceClock: toStoredClock(relation.presence.clock),
    data: relationView(schema, relation).data,
    clocks: storedClocks(relation.fields),
    updatedOffset,
  };
}

/**
 * Appends the rows of one mergeBatch call to `changes`. `batch` is the input of that call (in log
 * order). A record or relation row is written when it changed or an accepted op targeted it, with
 * `updated_offset` = the offset of the last accepted op targeting it: a function of the log alone,
 * so the same log gives the same rows however it was cut into batches. `loaded`, the slice the
 * merge started from (holding every touched row that exists), marks the rows it lacks as created.
 */
export function appendMergeResult(
  changes: ProjectionChanges,
  schema: Schema,
  libraryId: string,
  partition: number,
  batch: readonly LoggedOperation[],
  result: MergeResult,
  loaded?: LibrarySlice,
): void {
  if (batch.length === 0) return;
  const lastOffset = batch[batch.length - 1].offset;
  const recordTouch = new Map<string, bigint>();
  const relationTouch = new Map<string, bigint>();
  for (const { offset, op } of result.accepted) {
    if (isRecordOp(op)) recordTouch.set(op.recordId, offset);
    else relationTouch.set(relationKey(op.relation, op.relationItem, op.relationGroup), offset);
  }
  const records = new Map(result.changedRecords.map((r) => [r.recordId, r]));
  for (const id of recordTouch.keys()) {
    const record = result.slice.records.get(id);
    if (record !== undefined) records.set(id, record);
  }
  for (const [id, record] of records) {
    const row = recordRow(schema, libraryId, record, recordTouch.get(id) ?? lastOffset);
    if (loaded !== undefined && !loaded.records.has(id)) row.created = true;
    changes.records.push(row);
  }
  const relations = new Map(
    result.changedRelations.map((r) => [relationKey(r.relation, r.item, r.group), r]),
  );
  for (const key of relationTouch.keys()) {
    const relation = result.slice.relations.get(key);
    if (relation !== undefined) relations.set(key, relation);
  }
  for (const [key, relation] of relations) {
    const row = relationRow(schema, libraryId, relation, relationTouch.get(key) ?? lastOffset);
    if (loaded !== undefined && !loaded.relations.has(key)) row.created = true;
    changes.relations.push(row);
  }
  for (const { offset, op } of result.pendingAdded) {
    if (!isRecordOp(op)) continue; // only record ops can wait for a CREATE
    changes.pendingAdded.push({ libraryId, offset, recordId: op.recordId, operation: op });
  }
  for (const offset of result.pendingResolved) changes.pendingResolved.push({ libraryId, offset });
  for (const { offset, op, contentHash } of result.accepted) {
    changes.operations.push({
      libraryId,
      offset,
      node: op.node,
      hybrid: op.timestamp.hybrid,
      contentHash,
      operation: op,
    });
  }
  for (const offset of result.revoked) changes.revoked.push({ libraryId, offset });
  for (const { offset, op, reason, message } of result.rejections) {
    changes.rejections.push({ libraryId, offset, operation: op, reason, message });
  }
  changes.libraries.push({
    libraryId,
    partition,
    operations: result.accepted.length - result.revoked.length,
    rejected: result.rejections.length,
    firstOffset: batch[0].offset,
    lastOffset,
  });
}
