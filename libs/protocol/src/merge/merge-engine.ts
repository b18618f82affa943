import { Clock, ZERO_CLOCK, compareClock, identityKey } from '../hlc/clock-order';
import { JsonValue, ownValue } from '../json';
import { canonicalJson, contentHash } from '../operation/canonical-json';
import {
  Operation,
  RecordOperation,
  RelationOperation,
  isRecordOp,
  opClock,
  opIdentityKey,
} from '../operation/operation.types';
import { Schema } from '../schema/schema';
import { FieldDef } from '../schema/schema.types';
import {
  AcceptedOperation,
  LibrarySlice,
  LoggedOperation,
  MergeResult,
  RecordState,
  Rejection,
  RejectionReason,
  RelationKey,
  RelationState,
  TouchedKeys,
} from './merge.types';

export function emptySlice(): LibrarySlice {
  return { records: new Map(), pending: new Map(), relations: new Map(), accepted: new Map() };
}

/** Map key of a relation; names cannot contain '|' and UUIDs do not either. */
export function relationKey(relation: string, item: string, group: string): string {
  return `${relation}|${item}|${group}`;
}

export function relationKeyOf(op: RelationOperation): string {
  return relationKey(op.relation, op.relationItem, op.relationGroup);
}

/** The rows mergeBatch needs for `batch`: load these into the slice before calling it. */
export function touchedKeys(batch: readonly LoggedOperation[]): TouchedKeys {
  const recordIds = new Set<string>();
  const relations = new Map<string, RelationKey>();
  const identities = new Map<string, { node: string; hybrid: bigint }>();
  for (const { op } of batch) {
    if (isRecordOp(op)) recordIds.add(op.recordId);
    else {
      relations.set(relationKeyOf(op), {
        relation: op.relation,
        item: op.relationItem,
        group: op.relationGroup,
      });
    }
    identities.set(opIdentityKey(op), { node: op.node, hybrid: BigInt(op.timestamp.hybrid) });
  }
  return {
    recordIds: [...recordIds],
    relationKeys: [...relations.values()],
    identities: [...identities.values()],
  };
}

type Verdict = { reason: RejectionReason; message: string } | null;

function field(schema: Schema, owner: string, name: string): FieldDef | undefined {
  return schema.field(owner, name);
}

/** Checks `data` keys/values against a model or relation. */
function checkData(
  schema: Schema,
  owner: string,
  data: Readonly<Record<string, JsonValue>> | undefined,
): Verdict {
  if (data === undefined) return null;
  for (const key of Object.keys(data)) {
    const def = field(schema, owner, key);
    if (def === undefined)
      return { reason: 'UNKNOWN_FIELD', message: `${owner} has no field "${key}"` };
    const error = schema.checkValue(def, data[key]);
    if (error !== null) return { reason: 'INVALID_VALUE', message: `data.${key} ${error}` };
  }
  return null;
}

function checkUpdate(schema: Schema, owner: string, name: string, value: JsonValue): Verdict {
  const def = field(schema, owner, name);
  if (def === undefined)
    return { reason: 'UNKNOWN_FIELD', message: `${owner} has no field "${name}"` };
  const error = schema.checkValue(def, value);
  return error === null ? null : { reason: 'INVALID_VALUE', message: `value ${error}` };
}

/** Checks that do not depend on the record's state (R4 against the op's own `model`). */
function staticRecordVerdict(schema: Schema, op: RecordOperation): Verdict {
  if (op.model !== undefined && schema.model(op.model) === undefined) {
    return { reason: 'UNKNOWN_MODEL', message: `unknown model "${op.model}"` };
  }
  if (op.type === 'CREATE') return checkData(schema, op.model, op.data);
  if (op.type === 'UPDATE') {
    if (op.model !== undefined) return checkUpdate(schema, op.model, op.field, op.value);
    // Model-less UPDATE before its CREATE: reject now only what no model could accept.
    const defs = schema.fieldDefsNamed(op.field);
    if (defs.length === 0) {
      return { reason: 'UNKNOWN_FIELD', message: `no model has a field "${op.field}"` };
    }
    if (defs.every((d) => schema.checkValue(d, op.value) !== null)) {
      const [first] = defs;
      const error = (first && schema.checkValue(first, op.value)) ?? 'is invalid';
      return { reason: 'INVALID_VALUE', message: `value ${error}` };
    }
  }
  return null;
}

/**
 * R4/R5 against a record that has an accepted CREATE (deleted or not). `valuesChecked`: the
 * op's values passed staticRecordVerdict against its own model just now, which, the models
 * being equal, is the same check.
 */
function recordVerdict(
  schema: Schema,
  op: RecordOperation,
  record: RecordState,
  valuesChecked = false,
): Verdict {
  if (op.model !== undefined && op.model !== record.model) {
    return {
      reason: 'MODEL_MISMATCH',
      message: `record ${record.recordId} is a ${record.model}, not a ${op.model}`,
    };
  }
  const model = schema.model(record.model);
  if (model === undefined) {
    return {
      reason: 'UNKNOWN_MODEL',
      message: `model "${record.model}" is no longer in the schema`,
    };
  }
  if (model.kind === 'owned' && record.owner !== null && op.node !== record.owner) {
    return {
      reason: 'NOT_OWNER',
      message: `${record.model} ${record.recordId} is owned by node ${record.owner}`,
    };
  }
  if (valuesChecked && op.model !== undefined) return null;
  if (op.type === 'CREATE') return checkData(schema, record.model, op.data);
  if (op.type === 'UPDATE') return checkUpdate(schema, record.model, op.field, op.value);
  return null;
}

function relationVerdict(schema: Schema, op: RelationOperation): Verdict {
  if (schema.relation(op.relation) === undefined) {
    return { reason: 'UNKNOWN_MODEL', message: `unknown relation "${op.relation}"` };
  }
  if (op.type === 'CREATE') return checkData(schema, op.relation, op.data);
  if (op.type === 'UPDATE') return checkUpdate(schema, op.relation, op.field, op.value);
  return null;
}

/** One mergeBatch call: copy-on-write over the input slice. */
class MergeRun {
  readonly records: Map<string, RecordState>;
  readonly pending: Map<string, LoggedOperation[]>;
  readonly relations: Map<string, RelationState>;
  readonly accepted: LibrarySlice['accepted'];

  private readonly ownRecords = new Set<string>();
  private readonly ownRelations = new Set<string>();
  private readonly ownPending = new Set<string>();
  private readonly initialPending = new Set<bigint>();

  /**
   * This batch's accepted ops (by identity: a pending list holds the same objects) and hashes,
   * or with lazyHashes the accepted entry that hashes when asked.
   */
  readonly acceptedNow = new Map<LoggedOperation, string | LazyHashIdentity>();
  readonly rejections: Rejection[] = [];
  readonly duplicates: bigint[] = [];
  readonly revoked: bigint[] = [];
  readonly pendingResolved: bigint[] = [];

  constructor(
    private readonly schema: Schema,
    slice: LibrarySlice,
    private readonly lazyHashes: boolean,
  ) {
    this.records = new Map(slice.records);
    this.pending = new Map(slice.pending);
    this.relations = new Map(slice.relations);
    this.accepted = new Map(slice.accepted);
    for (const list of slice.pending.values())
      for (const p of list) this.initialPending.add(p.offset);
  }

  apply(logged: LoggedOperation): void {
    const { op } = logged;
    const idKey = opIdentityKey(op);
    const hash = this.lazyHashes ? undefined : contentHash(op);
    const prior = this.accepted.get(idKey);
    if (prior !== undefined) {
      if (prior.contentHash === (hash ?? contentHash(op))) this.duplicates.push(logged.offset);
      else {
        this.reject(logged, {
          reason: 'DUPLICATE_CONFLICT',
          message: `node ${op.node} already sent hybrid ${op.timestamp.hybrid} with different content (offset ${prior.offset})`,
        });
      }
      return;
    }
    const accepted = isRecordOp(op)
      ? this.applyRecordOp(logged, op)
      : this.applyRelationOp(logged, op);
    if (!accepted) return;
    if (hash === undefined) {
      const lazy = new LazyHashIdentity(logged);
      this.accepted.set(idKey, lazy);
      this.acceptedNow.set(logged, lazy);
    } else {
      this.accepted.set(idKey, { offset: logged.offset, contentHash: hash });
      this.acceptedNow.set(logged, hash);
    }
  }

  private reject(logged: LoggedOperation, verdict: NonNullable<Verdict>): void {
    this.rejections.push({ offset: logged.offset, op: logged.op, ...verdict });
  }

  private applyRecordOp(logged: LoggedOperation, op: RecordOperation): boolean {
    const verdict = staticRecordVerdict(this.schema, op);
    if (verdict !== null) {
      this.reject(logged, verdict);
      return false;
    }
    const existing = this.records.get(op.recordId);
    if (existing !== undefined) {
      const late = recordVerdict(this.schema, op, existing, true);
      if (late !== null) {
        this.reject(logged, late);
        return false;
      }
      this.writeRecord(op);
      return true;
    }
    if (op.type !== 'CREATE') {
      this.addPending(op.recordId, logged); // R3
      return true;
    }
    const model = this.schema.model(op.model);
    const record: RecordState = {
      recordId: op.recordId,
      model: op.model,
      owner: model?.kind === 'owned' ? op.node : null,
      deleted: false,
      fields: {},
    };
    this.records.set(op.recordId, record);
    this.ownRecords.add(op.recordId);
    this.writeRecord(op);
    this.resolvePending(record);
    return true;
  }

  private addPending(recordId: string, logged: LoggedOperation): void {
    const list = this.pending.get(recordId);
    if (list !== undefined && this.ownPending.has(recordId)) list.push(logged);
    else this.pending.set(recordId, [...(list ?? []), logged]);
    this.ownPending.add(recordId);
  }

  /** The record's first CREATE arrived: apply or reject what waited for it (R3-R5). */
  private resolvePending(record: RecordState): void {
    const list = this.pending.get(record.recordId);
    if (list === undefined) return;
    this.pending.delete(record.recordId);
    const ordered = [...list].sort((a, b) =>
      a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0,
    );
    for (const logged of ordered) {
      const op = logged.op as RecordOperation;
      if (this.initialPending.has(logged.offset)) this.pendingResolved.push(logged.offset);
      const verdict = recordVerdict(this.schema, op, record);
      if (verdict === null) {
        this.writeRecord(op);
        continue;
      }
      this.reject(logged, verdict);
      const idKey = opIdentityKey(op);
      if (this.accepted.get(idKey)?.offset === logged.offset) this.accepted.delete(idKey);
      // Accepted and rejected within this batch: it never reached the feed, so nothing to revoke.
      if (!this.acceptedNow.delete(logged)) this.revoked.push(logged.offset);
    }
  }

  private mutableRecord(recordId: string): RecordState {
    const current = this.records.get(recordId) as RecordState;
    if (this.ownRecords.has(recordId)) return current;
    const copy: RecordState = { ...current, fields: { ...current.fields } };
    this.records.set(recordId, copy);
    this.ownRecords.add(recordId);
    return copy;
  }

  private writeRecord(op: RecordOperation): void {
    const clock = opClock(op);
    const current = this.records.get(op.recordId) as RecordState;
    if (op.type === 'DELETE') {
      if (!current.deleted) this.mutableRecord(op.recordId).deleted = true;
      return;
    }
    const entries: [string, JsonValue][] =
      op.type === 'CREATE' ? Object.entries(op.data) : [[op.field, op.value]];
    for (const [name, value] of entries) {
      if (!wins(current.fields, name, clock)) continue;
      const def = this.schema.field(current.model, name) as FieldDef;
      this.mutableRecord(op.recordId).fields[name] = {
        value: this.schema.normalizeValue(def, value),
        clock,
      };
    }
  }

  private applyRelationOp(logged: LoggedOperation, op: RelationOperation): boolean {
    const verdict = relationVerdict(this.schema, op);
    if (verdict !== null) {
      this.reject(logged, verdict);
      return false;
    }
    const key = relationKeyOf(op);
    const clock = opClock(op);
    let state = this.relations.get(key);
    if (state === undefined) {
      state = {
        relation: op.relation,
        item: op.relationItem,
        group: op.relationGroup,
        presence: { exists: false, clock: { ...ZERO_CLOCK } },
        fields: {},
      };
      this.relations.set(key, state);
      this.ownRelations.add(key);
    }
    if (op.type !== 'UPDATE' && compareClock(clock, state.presence.clock) > 0) {
      this.mutableRelation(key).presence = { exists: op.type === 'CREATE', clock }; // L1
    }
    const entries: [string, JsonValue][] =
      op.type === 'CREATE'
        ? Object.entries(op.data ?? {})
        : op.type === 'UPDATE'
          ? [[op.field, op.value]]
          : [];
    for (const [name, value] of entries) {
      if (!wins(state.fields, name, clock)) continue;
      const def = this.schema.field(op.relation, name) as FieldDef;
      this.mutableRelation(key).fields[name] = {
        value: this.schema.normalizeValue(def, value),
        clock,
      };
    }
    return true;
  }

  private mutableRelation(key: string): RelationState {
    const current = this.relations.get(key) as RelationState;
    if (this.ownRelations.has(key)) return current;
    const copy: RelationState = { ...current, fields: { ...current.fields } };
    this.relations.set(key, copy);
    this.ownRelations.add(key);
    return copy;
  }

  result(): MergeResult {
    const pendingAdded: LoggedOperation[] = [];
    for (const id of this.ownPending) {
      for (const logged of this.pending.get(id) ?? []) {
        if (!this.initialPending.has(logged.offset)) pendingAdded.push(logged);
      }
    }
    pendingAdded.sort((a, b) => (a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0));
    return {
      slice: {
        records: this.records,
        pending: this.pending,
        relations: this.relations,
        accepted: this.accepted,
      },
      changedRecords: [...this.ownRecords].map((id) => this.records.get(id) as RecordState),
      changedRelations: [...this.ownRelations].map((k) => this.relations.get(k) as RelationState),
      pendingAdded,
      pendingResolved: this.pendingResolved,
      accepted: acceptedList(this.acceptedNow),
      revoked: this.revoked,
      rejections: this.rejections,
      duplicates: this.duplicates,
    };
  }
}

function acceptedList(
  accepted: ReadonlyMap<LoggedOperation, string | LazyHashIdentity>,
): AcceptedOperation[] {
  const list: AcceptedOperation[] = [];
  for (const [{ offset, op }, hash] of accepted) {
    list.push(typeof hash === 'string' ? { offset, op, contentHash: hash } : hash);
  }
  return list;
}

/**
 * An accepted op whose content hash (canonical JSON + SHA-256) is computed the first time it is
 * read, then kept: for callers that read the hashes of few ops (see MergeOptions.lazyHashes).
 */
class LazyHashIdentity implements AcceptedOperation {
  readonly offset: bigint;
  readonly op: Operation;
  private hash: string | undefined;

  constructor({ offset, op }: LoggedOperation) {
    this.offset = offset;
    this.op = op;
  }

  get contentHash(): string {
    this.hash ??= contentHash(this.op);
    return this.hash;
  }
}

export interface MergeOptions {
  /**
   * Hash an op's content only when something reads the hash: D1 comparing an op with an
   * accepted one of the same identity, or the caller reading `contentHash` of an accepted entry
   * (result.accepted, result.slice.accepted). The result is the same (entries are then objects
   * whose contentHash is a getter, not plain data: read it, do not spread or serialize them).
   * For a node's replica, which keeps the identities of few of the ops it merges. Default false.
   */
  lazyHashes?: boolean;
}

/** R2/L2: does a write at `clock` beat the field's current write? */
function wins(fields: Record<string, { clock: Clock }>, name: string, clock: Clock): boolean {
  const prior = ownValue(fields, name);
  return prior === undefined || compareClock(clock, prior.clock) > 0;
}

/**
 * Merges a batch of ops (in log order) into a library slice. Pure: the input slice and its
 * rows are not mutated; the result carries a new slice sharing unchanged rows with the input.
 * The slice must hold every row touchedKeys(batch) names that exists in storage.
 */
export function mergeBatch(
  schema: Schema,
  slice: LibrarySlice,
  batch: readonly LoggedOperation[],
  options: MergeOptions = {},
): MergeResult {
  const run = new MergeRun(schema, slice, options.lazyHashes === true);
  for (const logged of batch) run.apply(logged);
  return run.result();
}

/** For logs and debugging: an op's identity and content as text. */
export function describeOperation(op: Operation): string {
  return `${identityKey(op.node, op.timestamp.hybrid)} ${canonicalJson(op)}`;
}
