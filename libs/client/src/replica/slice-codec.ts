import {
  type AcceptedIdentity,
  type Clock,
  type FieldWrite,
  type JsonValue,
  type LibrarySlice,
  type LoggedOperation,
  type Operation,
  type RecordState,
  type RelationState,
  relationKey,
} from '../protocol';
import type { CompactTables } from './compact-record';
import { type PackedRecord, PackedRecords, isSnapshotLine } from './packed-records';
import type { SliceChanges } from './slice-rows';

/*
 * LibrarySlice as plain JSON for LocalStore implementations: Maps become arrays of entries and
 * bigints (hybrids, offsets) decimal strings. Nothing is dropped, so a decoded slice merges
 * exactly like the original.
 */

export type StoredClock = [hybrid: string, node: string];
export type StoredFields = Record<string, { value: JsonValue; clock: StoredClock }>;

export interface StoredRecord {
  recordId: string;
  model: string;
  owner: string | null;
  deleted: boolean;
  fields: StoredFields;
}

/**
 * A record kept as a line of the snapshot it came in (see PackedRecords.setSnapshotRecord):
 * `line` is that JSON text, checked when it arrived (wire-record).
 */
export interface StoredWireRecord {
  recordId: string;
  line: string;
}

/**
 * A record kept as compact text (see PackedRecords.setSnapshotRecord), whose numbers refer to
 * the slice's compactTables.
 */
export interface StoredCompactRecord {
  recordId: string;
  compact: string;
}

export interface StoredRelation {
  relation: string;
  item: string;
  group: string;
  presence: { exists: boolean; clock: StoredClock };
  fields: StoredFields;
}

export interface StoredLoggedOperation {
  offset: string;
  op: Operation;
}

export interface StoredSlice {
  records: (StoredRecord | StoredWireRecord | StoredCompactRecord)[];
  /** What compact records' numbers refer to; present when the slice holds one. */
  compactTables?: CompactTables;
  pending: [recordId: string, ops: StoredLoggedOperation[]][];
  relations: StoredRelation[];
  accepted: [identity: string, offset: string, contentHash: string][];
}

const encodeClock = (clock: Clock): StoredClock => [clock.hybrid.toString(), clock.node];
const decodeClock = ([hybrid, node]: StoredClock): Clock => ({ hybrid: BigInt(hybrid), node });

function encodeFields(fields: Record<string, FieldWrite>): StoredFields {
  const out: StoredFields = {};
  for (const [name, write] of Object.entries(fields))
    storeField(out, name, write.value, write.clock);
  return out;
}

/** One field of a stored row: the only place a field's stored form is made. */
function storeField(out: StoredFields, name: string, value: JsonValue, clock: Clock): void {
  out[name] = { value, clock: encodeClock(clock) };
}

function decodeFields(fields: StoredFields): Record<string, FieldWrite> {
  // Field names come from data; fromEntries defines own properties even for "__proto__".
  return Object.fromEntries(
    Object.entries(fields).map(([name, w]) => [
      name,
      { value: w.value, clock: decodeClock(w.clock) },
    ]),
  );
}

const encodeLogged = (l: LoggedOperation): StoredLoggedOperation => ({
  offset: l.offset.toString(),
  op: l.op,
});
const decodeLogged = (l: StoredLoggedOperation): LoggedOperation => ({
  offset: BigInt(l.offset),
  op: l.op,
});

const encodeRecord = (r: RecordState): StoredRecord => ({
  recordId: r.recordId,
  model: r.model,
  owner: r.owner,
  deleted: r.deleted,
  fields: encodeFields(r.fields),
});
/** encodeRecord of the row a packed record stands for, without rebuilding that row. */
function encodePackedRecord(p: PackedRecord): StoredRecord {
  const fields: StoredFields = {};
  for (let i = 0; i < p.names.length; i++) {
    storeField(fields, p.names[i], p.writes[2 * i] as JsonValue, p.writes[2 * i + 1] as Clock);
  }
  return { recordId: p.recordId, model: p.model, owner: p.owner, deleted: p.deleted, fields };
}

const encodeRelation = (r: RelationState): StoredRelation => ({
  relation: r.relation,
  item: r.item,
  group: r.group,
  presence: { exists: r.presence.exists, clock: encodeClock(r.presence.clock) },
  fields: encodeFields(r.fields),
});

/** One row of a stored slice, for stores that write rows one at a time. */
export type StoredSliceRow =
  | ['record', StoredRecord]
  | ['wireRecord', line: string]
  | ['compactTables', CompactTables]
  | ['compactRecord', recordId: string, text: string]
  | ['relation', StoredRelation]
  | ['pending', recordId: string, ops: StoredLoggedOperation[]]
  | ['accepted', identity: string, offset: string, contentHash: string];

/**
 * The rows of encodeSlice(slice), each encoded only when reached: a store that writes them as
 * they come never holds the replica encoded whole. The slice must not change meanwhile. The
 * compactTables row comes before the first compactRecord row.
 */
export function* encodeSliceRows(slice: LibrarySlice): Generator<StoredSliceRow> {
  if (slice.records instanceof PackedRecords) {
    let tables = false;
    for (const [id, row] of slice.records.storedEntries()) {
      if (typeof row !== 'string') yield ['record', encodePackedRecord(row)];
      else if (isSnapshotLine(row)) yield ['wireRecord', row];
      else {
        if (!tables) yield ['compactTables', slice.records.compactTables()];
        tables = true;
        yield ['compactRecord', id, row];
      }
    }
  } else {
    for (const r of slice.records.values()) yield ['record', encodeRecord(r)];
  }
  for (const r of slice.relations.values()) yield ['relation', encodeRelation(r)];
  for (const [id, list] of slice.pending) yield ['pending', id, list.map(encodeLogged)];
  for (const [key, a] of slice.accepted) {
    yield ['accepted', key, a.offset.toString(), a.contentHash];
  }
}

/** The rows of a stored slice, in the order encodeSliceRows gives them. */
export function* storedSliceRows(stored: StoredSlice): Generator<StoredSliceRow> {
  let tables = false;
  for (const r of stored.records) {
    if (isWireRecord(r)) yield ['wireRecord', r.line];
    else if (!isCompactRecord(r)) yield ['record', r];
    else {
      if (!tables) yield ['compactTables', compactTablesOf(stored)];
      tables = true;
      yield ['compactRecord', r.recordId, r.compact];
    }
  }
  for (const r of stored.relations) yield ['relation', r];
  for (const [id, list] of stored.pending) yield ['pending', id, list];
  for (const a of stored.accepted) yield ['accepted', ...a];
}

type AnyStoredRecord = StoredSlice['records'][number];

const isWireRecord = (r: AnyStoredRecord): r is StoredWireRecord =>
  typeof (r as Partial<StoredWireRecord>).line === 'string';

const isCompactRecord = (r: AnyStoredRecord): r is StoredCompactRecord =>
  typeof (r as Partial<StoredCompactRecord>).compact === 'string';

function compactTablesOf(stored: StoredSlice): CompactTables {
  if (stored.compactTables === undefined) {
    throw new Error('stored replica: compact records without their tables');
  }
  return stored.compactTables;
}

function encodeRecords(records: LibrarySlice['records']): StoredSlice['records'] {
  if (!(records instanceof PackedRecords)) return [...records.values()].map(encodeRecord);
  return [...records.storedEntries()].map(([recordId, row]) => {
    if (typeof row !== 'string') return encodePackedRecord(row);
    return isSnapshotLine(row) ? { recordId, line: row } : { recordId, compact: row };
  });
}

export function encodeSlice(slice: LibrarySlice): StoredSlice {
  const records = encodeRecords(slice.records);
  const compact = slice.records instanceof PackedRecords && records.some(isCompactRecord);
  return {
    records,
    ...(compact ? { compactTables: (slice.records as PackedRecords).compactTables() } : {}),
    pending: [...slice.pending].map(([id, list]) => [id, list.map(encodeLogged)]),
    relations: [...slice.relations.values()].map(encodeRelation),
    accepted: [...slice.accepted].map(([key, a]) => [key, a.offset.toString(), a.contentHash]),
  };
}

/**
 * Rows written since a stored slice, to append to it: records and relations as they are now
 * (rows are never removed), pending lists and identities as they are now or null when gone.
 */
export interface StoredSliceChange {
  records: StoredRecord[];
  relations: StoredRelation[];
  pending: [recordId: string, ops: StoredLoggedOperation[] | null][];
  accepted: [identity: string, accepted: [offset: string, contentHash: string] | null][];
}

/** encodeRecord of record `id`, from its packed form when it has one (no RecordState built). */
function encodeRecordAt(records: LibrarySlice['records'], id: string): StoredRecord | undefined {
  const packed = records instanceof PackedRecords ? records.packedRow(id) : undefined;
  if (packed !== undefined) return encodePackedRecord(packed);
  const record = records.get(id);
  return record === undefined ? undefined : encodeRecord(record);
}

/** One row of a StoredSliceChange, for stores that write a change's rows one at a time. */
export type StoredSliceChangeRow =
  | ['record', StoredRecord]
  | ['relation', StoredRelation]
  | ['pending', recordId: string, ops: StoredLoggedOperation[] | null]
  | ['accepted', identity: string, accepted: [offset: string, contentHash: string] | null];

/**
 * The current value of every row named in `changed` (records, relations, pending lists, then
 * identities), each encoded only when reached: a store that writes them as they come never
 * holds a checkpoint's rows encoded at once. The slice must not change meanwhile.
 */
export function* encodeSliceChangeRows(
  slice: LibrarySlice,
  changed: SliceChanges,
): Generator<StoredSliceChangeRow> {
  for (const id of changed.records) {
    const record = encodeRecordAt(slice.records, id);
    if (record !== undefined) yield ['record', record];
  }
  for (const key of changed.relations) {
    const relation = slice.relations.get(key);
    if (relation !== undefined) yield ['relation', encodeRelation(relation)];
  }
  for (const id of changed.pending) {
    yield ['pending', id, slice.pending.get(id)?.map(encodeLogged) ?? null];
  }
  for (const key of changed.accepted) {
    const a = slice.accepted.get(key);
    yield ['accepted', key, a === undefined ? null : [a.offset.toString(), a.contentHash]];
  }
}

/** The rows of a StoredSliceChange, in the order encodeSliceChangeRows gives them. */
export function* storedSliceChangeRows(change: StoredSliceChange): Generator<StoredSliceChangeRow> {
  for (const r of change.records) yield ['record', r];
  for (const r of change.relations) yield ['relation', r];
  for (const [id, list] of change.pending) yield ['pending', id, list];
  for (const [key, accepted] of change.accepted) yield ['accepted', key, accepted];
}

/** The current value of every row named in `changed`, gathered into one value. */
export function encodeSliceChange(slice: LibrarySlice, changed: SliceChanges): StoredSliceChange {
  const change: StoredSliceChange = { records: [], relations: [], pending: [], accepted: [] };
  for (const row of encodeSliceChangeRows(slice, changed)) {
    switch (row[0]) {
      case 'record':
        change.records.push(row[1]);
        break;
      case 'relation':
        change.relations.push(row[1]);
        break;
      case 'pending':
        change.pending.push([row[1], row[2]]);
        break;
      case 'accepted':
        change.accepted.push([row[1], row[2]]);
        break;
    }
  }
  return change;
}

/** The rows a change of `changed` holds at most (rows are never removed, so: exactly). */
export function changedRows(changed: SliceChanges): number {
  return (
    changed.records.size + changed.relations.size + changed.pending.size + changed.accepted.size
  );
}

/** `stored` with `changes` applied in order: what encodeSlice gives of the slice after them. */
export function applySliceChanges(
  stored: StoredSlice,
  changes: readonly StoredSliceChange[],
): StoredSlice {
  if (changes.length === 0) return stored;
  const records = new Map(stored.records.map((r) => [r.recordId, r]));
  const relations = new Map(
    stored.relations.map((r) => [relationKey(r.relation, r.item, r.group), r]),
  );
  const pending = new Map(stored.pending);
  const accepted = new Map(stored.accepted.map(([key, offset, hash]) => [key, [offset, hash]]));
  for (const change of changes) {
    for (const r of change.records) records.set(r.recordId, r);
    for (const r of change.relations) relations.set(relationKey(r.relation, r.item, r.group), r);
    for (const [id, list] of change.pending) {
      if (list === null) pending.delete(id);
      else pending.set(id, list);
    }
    for (const [key, value] of change.accepted) {
      if (value === null) accepted.delete(key);
      else accepted.set(key, value);
    }
  }
  return {
    records: [...records.values()],
    ...(stored.compactTables === undefined ? {} : { compactTables: stored.compactTables }),
    pending: [...pending],
    relations: [...relations.values()],
    accepted: [...accepted].map(([key, [offset, hash]]) => [key, offset, hash]),
  };
}

export function decodeSlice(stored: StoredSlice): LibrarySlice {
  // Packed as the node keeps them (PackedRecords): the rows are never all unpacked at once.
  const records = new PackedRecords();
  if (stored.compactTables !== undefined) records.adoptCompactTables(stored.compactTables);
  for (const r of stored.records) {
    if (isWireRecord(r)) {
      records.setLine(r.recordId, r.line);
      continue;
    }
    if (isCompactRecord(r)) {
      records.setCompact(r.recordId, r.compact);
      continue;
    }
    records.set(r.recordId, {
      recordId: r.recordId,
      model: r.model,
      owner: r.owner,
      deleted: r.deleted,
      fields: decodeFields(r.fields),
    });
  }
  const relations = new Map<string, RelationState>();
  for (const r of stored.relations) {
    relations.set(relationKey(r.relation, r.item, r.group), {
      relation: r.relation,
      item: r.item,
      group: r.group,
      presence: { exists: r.presence.exists, clock: decodeClock(r.presence.clock) },
      fields: decodeFields(r.fields),
    });
  }
  const accepted = new Map<string, AcceptedIdentity>();
  for (const [key, offset, contentHash] of stored.accepted) {
    accepted.set(key, { offset: BigInt(offset), contentHash });
  }
  return {
    records,
    pending: new Map(stored.pending.map(([id, list]) => [id, list.map(decodeLogged)])),
    relations,
    accepted,
  };
}
