import fc from 'fast-check';
import { identityKey } from '../hlc/clock-order';
import { formatHybrid, hybridFromMillis } from '../hlc/ntp64';
import { JsonObject, JsonValue } from '../json';
import { contentHash } from '../operation/canonical-json';
import { Operation, isRecordOp, opIdentityKey } from '../operation/operation.types';
import { defaultSchema } from '../schema/default-schema';
import { FieldDef } from '../schema/schema.types';
import {
  BASE_MS,
  NODE_A,
  NODE_B,
  NODE_C,
  logged,
  rid,
  snapshot,
} from '../testing/operation-builders';
import { materialize } from './materialize';
import { emptySlice, mergeBatch, relationKey, touchedKeys } from './merge-engine';
import { LibrarySlice, LoggedOperation, MergeResult } from './merge.types';

/*
 * Random multi-node workloads over a few records and relations. Every generated set is "valid"
 * in the contract's sense (consistent models; owned records created only by their owner), but it
 * also carries ops that must always be rejected whatever the order: strangers writing owned
 * records, ops naming the wrong model, fields the record's model lacks. Exact duplicates too.
 */

const schema = defaultSchema();
const NODES = [NODE_A, NODE_B, NODE_C];
const RECORDS: { id: string; model: string; owner?: string }[] = [
  { id: rid(1), model: 'Tag' },
  { id: rid(2), model: 'Object' },
  { id: rid(3), model: 'Object' },
  { id: rid(4), model: 'Album' },
  { id: rid(5), model: 'Location', owner: NODE_A },
  { id: rid(6), model: 'FilePath', owner: NODE_B },
];
const RELATIONS = [
  { relation: 'TagOnObject', item: rid(2), group: rid(1) },
  { relation: 'TagOnObject', item: rid(3), group: rid(1) },
  { relation: 'ObjectInAlbum', item: rid(2), group: rid(4) },
  { relation: 'ObjectInAlbum', item: rid(4), group: rid(4) }, // item of the wrong model: never visible
];

const hybridArb = fc
  .tuple(fc.integer({ min: 0, max: 25 }), fc.integer({ min: 0, max: 3 }))
  .map(([tick, counter]) => formatHybrid(hybridFromMillis(BASE_MS + tick, counter)));

function valueArb(def: FieldDef): fc.Arbitrary<JsonValue> {
  const base: Record<FieldDef['type'], fc.Arbitrary<JsonValue>> = {
    string: fc.constantFrom('a', 'b', 'c'),
    int: fc.integer({ min: -3, max: 3 }),
    float: fc.constantFrom(0.5, 1, 2.25),
    bool: fc.boolean(),
    datetime: fc.constantFrom('2024-01-01T00:00:00Z', '2024-06-01T12:00:00.5+02:00'),
    json: fc.constantFrom<JsonValue>({ a: 1 }, [1, 2], 'x'),
    ref: fc.constantFrom(...RECORDS.map((r) => r.id)),
  };
  return fc.oneof(
    { weight: 5, arbitrary: base[def.type] },
    { weight: 1, arbitrary: fc.constant(null) },
  );
}

function dataArb(fields: readonly FieldDef[]): fc.Arbitrary<JsonObject> {
  return fc.subarray([...fields], { maxLength: Math.min(3, fields.length) }).chain((chosen) =>
    fc.tuple(...chosen.map((d) => valueArb(d))).map((values) => {
      const data: JsonObject = {};
      chosen.forEach((d, i) => (data[d.name] = values[i] ?? null));
      return data;
    }),
  );
}

const fieldsOf = (owner: string): FieldDef[] => {
  const def = schema.model(owner) ?? schema.relation(owner);
  return def ? Object.values(def.fields) : [];
};

const recordOpArb: fc.Arbitrary<Operation> = fc
  .tuple(fc.constantFrom(...RECORDS), fc.constantFrom(...NODES), hybridArb, fc.nat(99))
  .chain(([rec, anyNode, hybrid, dice]) => {
    const timestamp = { hybrid };
    const fields = fieldsOf(rec.model);
    // Owned records: CREATE only by the owner (first-CREATE-wins would make order matter);
    // UPDATE/DELETE by anyone, so strangers' ops get rejected.
    const creator = rec.owner ?? anyNode;
    const model = fc.constantFrom<string | undefined>(undefined, undefined, rec.model, 'Label');
    if (dice < 30) {
      return dataArb(fields).map((data): Operation => ({
        type: 'CREATE',
        recordId: rec.id,
        model: rec.model,
        data,
        node: creator,
        timestamp,
      }));
    }
    if (dice < 85) {
      // Mostly fields of the record's model; sometimes a field only another model has.
      const candidates =
        dice < 80 ? fields : fieldsOf(rec.model === 'FilePath' ? 'Location' : 'FilePath');
      return fc.tuple(fc.constantFrom(...candidates), model).chain(([def, m]) =>
        valueArb(def).map((value): Operation => ({
          type: 'UPDATE',
          recordId: rec.id,
          ...(m !== undefined && schema.field(m, def.name) ? { model: m } : {}),
          field: def.name,
          value,
          node: anyNode,
          timestamp,
        })),
      );
    }
    return model.map((m): Operation => ({
      type: 'DELETE',
      recordId: rec.id,
      ...(m !== undefined ? { model: m } : {}),
      node: anyNode,
      timestamp,
    }));
  });

const relationOpArb: fc.Arbitrary<Operation> = fc
  .tuple(fc.constantFrom(...RELATIONS), fc.constantFrom(...NODES), hybridArb, fc.nat(99))
  .chain(([rel, node, hybrid, dice]) => {
    const keys = { relationItem: rel.item, relationGroup: rel.group, relation: rel.relation };
    const timestamp = { hybrid };
    const fields = fieldsOf(rel.relation);
    if (dice < 45) {
      return fc.option(dataArb(fields), { nil: undefined }).map((data): Operation => ({
        type: 'CREATE',
        ...keys,
        ...(data ? { data } : {}),
        node,
        timestamp,
      }));
    }
    if (dice < 75) {
      return fc.constantFrom(...fields).chain((def) =>
        valueArb(def).map((value): Operation => ({
          type: 'UPDATE',
          ...keys,
          field: def.name,
          value,
          node,
          timestamp,
        })),
      );
    }
    return fc.constant<Operation>({ type: 'DELETE', ...keys, node, timestamp });
  });

/** Distinct identities (a repeated identity with other content is a conflict, i.e. not a valid set) plus exact duplicates. */
const workloadArb: fc.Arbitrary<Operation[]> = fc
  .tuple(
    fc.array(
      fc.oneof({ weight: 3, arbitrary: recordOpArb }, { weight: 2, arbitrary: relationOpArb }),
      {
        minLength: 1,
        maxLength: 40,
      },
    ),
    fc.array(fc.nat(), { maxLength: 4 }),
  )
  .map(([ops, dupIndexes]) => {
    const seen = new Set<string>();
    const unique = ops.filter((op) => {
      const key = opIdentityKey(op);
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
    return [...unique, ...dupIndexes.map((i) => structuredCloneOp(unique[i % unique.length]))];
  });

function structuredCloneOp(op: Operation): Operation {
  return JSON.parse(JSON.stringify(op)) as Operation;
}

const orderedWorkloadArb = workloadArb.chain((ops) =>
  fc.tuple(
    fc.constant(ops),
    fc.shuffledSubarray(ops, { minLength: ops.length, maxLength: ops.length }),
  ),
);

/** Order-independent summary of a whole-log merge. */
function outcome(ops: Operation[]) {
  const result = mergeBatch(schema, emptySlice(), logged(ops));
  const opOf = (offset: bigint) => ops[Number(offset)];
  const pending = [...result.slice.pending.values()].flat().map((l) => opIdentityKey(l.op));
  return {
    visible: materialize(schema, logged(ops)),
    feed: [...new Set(result.accepted.map((l) => opIdentityKey(l.op)))].sort(),
    pending: [...new Set(pending)].sort(),
    rejected: [
      ...new Set(result.rejections.map((r) => `${opIdentityKey(opOf(r.offset))} ${r.reason}`)),
    ].sort(),
  };
}

const RUNS = { numRuns: 1000 };

describe('merge properties', () => {
  it('every arrival order of the same ops converges to one state (visible, feed, pending, rejected)', () => {
    fc.assert(
      fc.property(orderedWorkloadArb, ([ops, shuffled]) => {
        expect(outcome(shuffled)).toEqual(outcome(ops));
      }),
      RUNS,
    );
  });

  it('applying a batch twice changes nothing', () => {
    fc.assert(
      fc.property(workloadArb, (ops) => {
        const batch = logged(ops);
        const once = mergeBatch(schema, emptySlice(), batch);
        const twice = mergeBatch(schema, once.slice, batch);
        expect(snapshot(twice.slice)).toBe(snapshot(once.slice));
        expect(twice.accepted).toEqual([]);
        expect(twice.revoked).toEqual([]);
        expect(twice.changedRecords).toEqual([]);
        expect(twice.changedRelations).toEqual([]);
        expect(twice.pendingAdded).toEqual([]);
        expect(twice.pendingResolved).toEqual([]);
      }),
      RUNS,
    );
  });

  it('accepted ops come in log order with the content hash their identity is stored with, none of them rejected', () => {
    fc.assert(
      fc.property(workloadArb, (ops) => {
        const result = mergeBatch(schema, emptySlice(), logged(ops));
        const rejected = new Set(result.rejections.map((r) => r.offset));
        result.accepted.forEach(({ offset, op, contentHash: hash }, i) => {
          if (i > 0) expect(result.accepted[i - 1].offset < offset).toBe(true);
          expect(hash).toBe(contentHash(op));
          expect(result.slice.accepted.get(opIdentityKey(op))).toEqual({
            offset,
            contentHash: hash,
          });
          expect(rejected.has(offset)).toBe(false);
        });
      }),
      RUNS,
    );
  });

  it('splitting the stream into batches anywhere gives the same state as one batch, through a store that only loads touched rows', () => {
    const splitArb = workloadArb.chain((ops) =>
      fc.tuple(
        fc.constant(ops),
        fc.uniqueArray(fc.integer({ min: 1, max: Math.max(1, ops.length - 1) }), { maxLength: 6 }),
      ),
    );
    fc.assert(
      fc.property(splitArb, ([ops, cuts]) => {
        const all = logged(ops);
        const whole = mergeBatch(schema, emptySlice(), all);

        const store = new ProjectorStore();
        const bounds = [0, ...[...cuts].sort((a, b) => a - b), all.length];
        for (let i = 0; i + 1 < bounds.length; i++) {
          const batch = all.slice(bounds[i], bounds[i + 1]);
          if (batch.length === 0) continue;
          store.apply(mergeBatch(schema, store.load(batch), batch));
        }
        expect(store.snapshot()).toEqual(ProjectorStore.snapshotOf(whole.slice, whole.accepted));
      }),
      RUNS,
    );
  });

  it('never mutates its input slice', () => {
    fc.assert(
      fc.property(workloadArb, workloadArb, (first, second) => {
        const base = mergeBatch(schema, emptySlice(), logged(first)).slice;
        const before = snapshot(base);
        mergeBatch(schema, base, logged(second, BigInt(first.length)));
        expect(snapshot(base)).toBe(before);
      }),
      { numRuns: 300 },
    );
  });
});

/** What a projector keeps in Postgres, maintained only from MergeResult's diffs. */
class ProjectorStore {
  records = new Map<string, unknown>();
  relations = new Map<string, unknown>();
  pending = new Map<bigint, LoggedOperation>();
  feed = new Map<bigint, Operation>();

  load(batch: LoggedOperation[]): LibrarySlice {
    const keys = touchedKeys(batch);
    const slice = emptySlice();
    for (const id of keys.recordIds) {
      const rec = this.records.get(id);
      if (rec) slice.records.set(id, rec as never);
      const waiting = [...this.pending.values()].filter(
        (l) => isRecordOp(l.op) && l.op.recordId === id,
      );
      if (waiting.length > 0)
        slice.pending.set(
          id,
          waiting.sort((a, b) => Number(a.offset - b.offset)),
        );
    }
    for (const k of keys.relationKeys) {
      const key = relationKey(k.relation, k.item, k.group);
      const rel = this.relations.get(key);
      if (rel) slice.relations.set(key, rel as never);
    }
    const wanted = new Set(keys.identities.map((i) => identityKey(i.node, i.hybrid)));
    for (const [offset, op] of this.feed) {
      const key = opIdentityKey(op);
      if (wanted.has(key)) slice.accepted.set(key, { offset, contentHash: contentHash(op) });
    }
    return slice;
  }

  apply(result: MergeResult): void {
    for (const r of result.changedRecords) this.records.set(r.recordId, r);
    for (const r of result.changedRelations)
      this.relations.set(relationKey(r.relation, r.item, r.group), r);
    for (const l of result.pendingAdded) this.pending.set(l.offset, l);
    for (const o of result.pendingResolved) this.pending.delete(o);
    for (const l of result.accepted) this.feed.set(l.offset, l.op);
    for (const o of result.revoked) this.feed.delete(o);
  }

  snapshot() {
    return {
      records: sortedSnapshot(this.records),
      relations: sortedSnapshot(this.relations),
      pending: [...this.pending.keys()].sort((a, b) => Number(a - b)).map(String),
      feed: [...this.feed.keys()].sort((a, b) => Number(a - b)).map(String),
    };
  }

  static snapshotOf(slice: LibrarySlice, accepted: LoggedOperation[]) {
    return {
      records: sortedSnapshot(slice.records),
      relations: sortedSnapshot(slice.relations),
      pending: [...slice.pending.values()]
        .flat()
        .map((l) => l.offset)
        .sort((a, b) => Number(a - b))
        .map(String),
      feed: accepted.map((l) => String(l.offset)),
    };
  }
}

function sortedSnapshot(map: Map<string, unknown>): string[] {
  return [...map.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k} ${snapshot(v)}`);
}
