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
  records: StoredRecord[];
  pending: [recordId: string, ops: StoredLoggedOperation[]][];
  relations: StoredRelation[];
  accepted: [identity: string, offset: string, contentHash: string][];
}

const encodeClock = (clock: Clock): StoredClock => [clock.hybrid.toString(), clock.node];
const decodeClock = ([hybrid, node]: StoredClock): Clock => ({ hybrid: BigInt(hybrid), node });

function encodeFields(fields: Record<string, FieldWrite>): StoredFields {
  const out: StoredFields = {};
  for (const [name, write] of Object.entries(fields)) {
    out[name] = { value: write.value, clock: encodeClock(write.clock) };
  }
  return out;
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

export function encodeSlice(slice: LibrarySlice): StoredSlice {
  return {
    records: [...slice.records.values()].map((r) => ({
      recordId: r.recordId,
      model: r.model,
      owner: r.owner,
      deleted: r.deleted,
      fields: encodeFields(r.fields),
    })),
    pending: [...slice.pending].map(([id, list]) => [id, list.map(encodeLogged)]),
    relations: [...slice.relations.values()].map((r) => ({
      relation: r.relation,
      item: r.item,
      group: r.group,
      presence: { exists: r.presence.exists, clock: encodeClock(r.presence.clock) },
      fields: encodeFields(r.fields),
    })),
    accepted: [...slice.accepted].map(([key, a]) => [key, a.offset.toString(), a.contentHash]),
  };
}

export function decodeSlice(stored: StoredSlice): LibrarySlice {
  const records = new Map<string, RecordState>();
  for (const r of stored.records) {
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
