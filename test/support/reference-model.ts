import { DEFAULT_SCHEMA_JSON, type SchemaFileJson } from '@sync/protocol';

/*
 * A deliberately small, independent model of the merge rules (CONTRACT.md section 5), used by
 * the fault suite to compute the state a set of acknowledged ops must produce. It shares no code
 * with the production merge engine: it does not fold batches incrementally, it decides on the
 * whole log at once (first CREATE in log order fixes model and owner; then every field, presence
 * and visibility is a maximum over clocks).
 *
 * Deliberate simplifications, so keep fault workloads inside them:
 * - values are not type-checked (INVALID_VALUE is never produced): the ingest validates them and
 *   the fault workloads only send well-typed values;
 * - a re-send of an op that ends up rejected is counted once among the rejections.
 */

export type WireOp = Record<string, unknown> & {
  type: 'CREATE' | 'UPDATE' | 'DELETE';
  node: string;
  timestamp: { hybrid: string };
};

interface ModelSpec {
  kind: 'shared' | 'owned';
  fields: string[];
  /** Fields of type ref: their UUID values are stored lowercase. */
  refs: Set<string>;
}

interface RelationSpec {
  item: string;
  group: string;
  fields: string[];
}

export interface ReferenceSchema {
  models: Map<string, ModelSpec>;
  relations: Map<string, RelationSpec>;
}

/** The declarations the model needs (names, kinds, fields), read from a schema file's JSON. */
export function referenceSchema(json: SchemaFileJson = DEFAULT_SCHEMA_JSON): ReferenceSchema {
  const typeOf = (spec: unknown) =>
    typeof spec === 'string' ? spec : (spec as { type: string }).type;
  const models = new Map<string, ModelSpec>();
  for (const [name, model] of Object.entries(json.models)) {
    const fields = Object.keys(model.fields);
    const refs = new Set(fields.filter((f) => typeOf(model.fields[f]) === 'ref'));
    models.set(name, { kind: model.kind, fields, refs });
  }
  const relations = new Map<string, RelationSpec>();
  for (const [name, relation] of Object.entries(json.relations ?? {})) {
    relations.set(name, {
      item: relation.item,
      group: relation.group,
      fields: Object.keys(relation.fields ?? {}),
    });
  }
  return { models, relations };
}

export type RejectReason =
  'MODEL_MISMATCH' | 'UNKNOWN_FIELD' | 'NOT_OWNER' | 'DUPLICATE_CONFLICT' | 'UNKNOWN_MODEL';

export interface RecordView {
  id: string;
  model: string;
  data: Record<string, unknown>;
}

export interface RelationView {
  relation: string;
  item: string;
  group: string;
  data: Record<string, unknown>;
}

export interface ReferenceState {
  /** Visible records, ordered by id (as GET /records lists them). */
  records: RecordView[];
  /** Visible relations, ordered by relation, item, group. */
  relations: RelationView[];
  /** Identities (`node@hybrid`) of the ops in the feed (accepted, pending included), log order. */
  feed: string[];
  /** Content of each feed op, by identity (stable JSON of the normalized op). */
  feedContent: Map<string, string>;
  /** Record ops kept because their record has no CREATE (R3). */
  pending: number;
  /** Re-sends of an accepted op with identical content (D1). */
  duplicates: number;
  rejected: { identity: string; reason: RejectReason }[];
}

interface Clock {
  hybrid: bigint;
  node: string;
}

interface Write {
  value: unknown;
  clock: Clock;
}

function compare(a: Clock, b: Clock): number {
  if (a.hybrid !== b.hybrid) return a.hybrid < b.hybrid ? -1 : 1;
  return a.node < b.node ? -1 : a.node > b.node ? 1 : 0;
}

/** JSON with object keys sorted, so equal content compares equal whatever the key order. */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value);
}

const UUID_KEYS = ['node', 'recordId', 'relationItem', 'relationGroup'] as const;

/** The op as the service stores it: UUIDs in lowercase (ref values included). */
export function normalizeOp(op: WireOp, schema: ReferenceSchema): WireOp {
  const out: WireOp = { ...op };
  const fields = out as Record<string, unknown>;
  for (const key of UUID_KEYS) {
    const value = fields[key];
    if (typeof value === 'string') fields[key] = value.toLowerCase();
  }
  const model = typeof op.model === 'string' ? schema.models.get(op.model) : undefined;
  if (model && op.data && typeof op.data === 'object') {
    const data = { ...(op.data as Record<string, unknown>) };
    for (const f of model.refs) {
      const value = data[f];
      if (typeof value === 'string') data[f] = value.toLowerCase();
    }
    out.data = data;
  }
  if (
    model &&
    typeof op.field === 'string' &&
    model.refs.has(op.field) &&
    typeof op.value === 'string'
  ) {
    out.value = op.value.toLowerCase();
  }
  return out;
}

export function identityOf(op: { node: string; timestamp: { hybrid: string } }): string {
  return `${op.node.toLowerCase()}@${op.timestamp.hybrid}`;
}

const isRelationOp = (op: WireOp) => typeof op.relation === 'string';

/** Fields an op writes: CREATE data keys, or its UPDATE field. */
function writtenFields(op: WireOp): [string, unknown][] {
  if (op.type === 'CREATE') return Object.entries((op.data as Record<string, unknown>) ?? {});
  if (op.type === 'UPDATE') return [[op.field as string, op.value]];
  return [];
}

function lww(fields: Map<string, Write>, name: string, value: unknown, clock: Clock): void {
  const current = fields.get(name);
  if (current === undefined || compare(clock, current.clock) > 0)
    fields.set(name, { value, clock });
}

/**
 * The state a library's accepted ops produce. `log` is every op the library received, in log
 * order (order of the partition), re-sends included.
 */
export function referenceState(schema: ReferenceSchema, log: readonly WireOp[]): ReferenceState {
  const ops = log.map((op) => normalizeOp(op, schema));
  const state: ReferenceState = {
    records: [],
    relations: [],
    feed: [],
    feedContent: new Map(),
    pending: 0,
    duplicates: 0,
    rejected: [],
  };

  // D1: the first op with an identity counts; identical re-sends are duplicates, others conflict.
  // (A rejected op's identity stays taken here; see the note at the top of the file.)
  const unique: WireOp[] = [];
  const seen = new Map<string, string>();
  const rejectedIds = new Set<string>();
  const reject = (op: WireOp, reason: RejectReason) => {
    const identity = identityOf(op);
    if (rejectedIds.has(`${identity}/${reason}`)) return;
    rejectedIds.add(`${identity}/${reason}`);
    state.rejected.push({ identity, reason });
  };
  for (const op of ops) {
    const identity = identityOf(op);
    const content = stableJson(op);
    const first = seen.get(identity);
    if (first === undefined) {
      seen.set(identity, content);
      unique.push(op);
    } else if (first === content) state.duplicates++;
    else reject(op, 'DUPLICATE_CONFLICT');
  }

  // R4/R5: model and owner of a record come from its first acceptable CREATE in log order.
  const identityOfRecord = new Map<string, { model: string; owner: string | null }>();
  for (const op of unique) {
    if (isRelationOp(op) || op.type !== 'CREATE') continue;
    const recordId = op.recordId as string;
    if (identityOfRecord.has(recordId)) continue;
    const model = schema.models.get(op.model as string);
    if (model === undefined) continue;
    if (writtenFields(op).some(([f]) => !model.fields.includes(f))) continue;
    identityOfRecord.set(recordId, {
      model: op.model as string,
      owner: model.kind === 'owned' ? op.node : null,
    });
  }

  const records = new Map<
    string,
    { created: boolean; deleted: boolean; fields: Map<string, Write> }
  >();
  const relations = new Map<
    string,
    {
      relation: string;
      item: string;
      group: string;
      presence?: { exists: boolean; clock: Clock };
      fields: Map<string, Write>;
    }
  >();

  for (const op of unique) {
    const identity = identityOf(op);
    const clock: Clock = { hybrid: BigInt(op.timestamp.hybrid), node: op.node };

    if (isRelationOp(op)) {
      const spec = schema.relations.get(op.relation as string);
      if (spec === undefined) {
        reject(op, 'UNKNOWN_MODEL');
        continue;
      }
      if (writtenFields(op).some(([f]) => !spec.fields.includes(f))) {
        reject(op, 'UNKNOWN_FIELD');
        continue;
      }
      accept(op, identity);
      const key = `${op.relation as string}|${op.relationItem as string}|${op.relationGroup as string}`;
      let relation = relations.get(key);
      if (relation === undefined) {
        relation = {
          relation: op.relation as string,
          item: op.relationItem as string,
          group: op.relationGroup as string,
          fields: new Map(),
        };
        relations.set(key, relation);
      }
      if (op.type !== 'UPDATE') {
        if (relation.presence === undefined || compare(clock, relation.presence.clock) > 0) {
          relation.presence = { exists: op.type === 'CREATE', clock };
        }
      }
      for (const [field, value] of writtenFields(op)) lww(relation.fields, field, value, clock);
      continue;
    }

    const recordId = op.recordId as string;
    const named = op.model as string | undefined;
    if (named !== undefined && !schema.models.has(named)) {
      reject(op, 'UNKNOWN_MODEL');
      continue;
    }
    // An op naming a model must fit that model by itself, whatever the record turns out to be.
    const namedSpec = named === undefined ? undefined : schema.models.get(named);
    if (namedSpec && writtenFields(op).some(([f]) => !namedSpec.fields.includes(f))) {
      reject(op, 'UNKNOWN_FIELD');
      continue;
    }
    const known = identityOfRecord.get(recordId);
    if (known === undefined) {
      // No CREATE anywhere in the log: kept pending, in the feed, without effect (R3).
      accept(op, identity);
      state.pending++;
      continue;
    }
    const model = schema.models.get(known.model) as ModelSpec;
    if (named !== undefined && named !== known.model) {
      reject(op, 'MODEL_MISMATCH');
      continue;
    }
    if (writtenFields(op).some(([f]) => !model.fields.includes(f))) {
      reject(op, 'UNKNOWN_FIELD');
      continue;
    }
    if (known.owner !== null && op.node !== known.owner) {
      reject(op, 'NOT_OWNER');
      continue;
    }
    accept(op, identity);
    let record = records.get(recordId);
    if (record === undefined) {
      record = { created: false, deleted: false, fields: new Map() };
      records.set(recordId, record);
    }
    if (op.type === 'CREATE') record.created = true;
    if (op.type === 'DELETE') record.deleted = true;
    for (const [field, value] of writtenFields(op)) lww(record.fields, field, value, clock);
  }

  function accept(op: WireOp, identity: string): void {
    state.feed.push(identity);
    state.feedContent.set(identity, stableJson(op));
  }

  const fill = (names: string[], fields: Map<string, Write>) =>
    Object.fromEntries(names.map((name) => [name, fields.get(name)?.value ?? null]));

  // R1: visible iff created and never deleted.
  const visible = new Map<string, string>();
  for (const [id, record] of records) {
    if (!record.created || record.deleted) continue;
    const model = identityOfRecord.get(id)!.model;
    visible.set(id, model);
    state.records.push({ id, model, data: fill(schema.models.get(model)!.fields, record.fields) });
  }
  state.records.sort((a, b) => (a.id < b.id ? -1 : 1));

  // L1-L3: exists iff the greatest CREATE/DELETE is a CREATE; visible iff both ends are visible
  // records of the declared models.
  for (const relation of relations.values()) {
    if (!relation.presence?.exists) continue;
    const spec = schema.relations.get(relation.relation)!;
    if (visible.get(relation.item) !== spec.item || visible.get(relation.group) !== spec.group) {
      continue;
    }
    state.relations.push({
      relation: relation.relation,
      item: relation.item,
      group: relation.group,
      data: fill(spec.fields, relation.fields),
    });
  }
  state.relations.sort((a, b) =>
    a.relation !== b.relation
      ? a.relation < b.relation
        ? -1
        : 1
      : a.item !== b.item
        ? a.item < b.item
          ? -1
          : 1
        : a.group < b.group
          ? -1
          : a.group > b.group
            ? 1
            : 0,
  );
  return state;
}
