import { defaultSchema } from '../schema/default-schema';
import { parseSchema } from '../schema/schema-parser';
import {
  NODE_A,
  NODE_B,
  NODE_C,
  createOp,
  deleteOp,
  logged,
  rid,
  snapshot,
  updateOp,
} from '../testing/operation-builders';
import { Operation } from '../operation/operation.types';
import { materialize } from './materialize';
import { emptySlice, mergeBatch } from './merge-engine';
import { LibrarySlice } from './merge.types';

const schema = defaultSchema();
const R1 = rid(1);

const merge = (ops: Operation[], slice: LibrarySlice = emptySlice(), first = 0n) =>
  mergeBatch(schema, slice, logged(ops, first));
const visible = (ops: Operation[]) => materialize(schema, logged(ops));
const reasons = (ops: Operation[]) =>
  merge(ops).rejections.map((r) => [Number(r.offset), r.reason]);

describe('R1 visibility and R2 last writer wins', () => {
  it('create makes a record visible with every declared field, null where unset', () => {
    expect(visible([createOp(R1, 'Tag', { name: 'work' }, NODE_A, 1)]).records).toEqual([
      {
        id: R1,
        model: 'Tag',
        data: {
          name: 'work',
          color: null,
          is_hidden: null,
          date_created: null,
          date_modified: null,
        },
      },
    ]);
  });

  it('the greatest write by (hybrid, node) wins whatever the arrival order', () => {
    const ops = [
      createOp(R1, 'Tag', { name: 'a', color: 'red' }, NODE_A, 1),
      updateOp(R1, 'name', 'b', NODE_B, 5),
      updateOp(R1, 'name', 'c', NODE_A, 5), // same hybrid: NODE_B > NODE_A wins
      updateOp(R1, 'color', 'blue', NODE_C, 3),
      updateOp(R1, 'color', 'green', NODE_A, 2),
    ];
    for (const order of [ops, [...ops].reverse(), [ops[3], ops[1], ops[0], ops[4], ops[2]]]) {
      expect(visible(order).records[0]?.data).toMatchObject({ name: 'b', color: 'blue' });
    }
  });

  it('a second CREATE writes its fields by the same rule', () => {
    const state = visible([
      createOp(R1, 'Tag', { name: 'a', color: 'red' }, NODE_A, 1),
      updateOp(R1, 'name', 'b', NODE_A, 3),
      createOp(R1, 'Tag', { name: 'old', color: 'new' }, NODE_B, 2),
    ]);
    expect(state.records[0]?.data).toMatchObject({ name: 'b', color: 'new' });
  });

  it('an UPDATE to null clears the field', () => {
    const state = visible([
      createOp(R1, 'Tag', { name: 'a' }, NODE_A, 1),
      updateOp(R1, 'name', null, NODE_A, 2),
    ]);
    expect(state.records[0]?.data['name']).toBeNull();
  });

  it('lowercases ref values it writes', () => {
    const state = visible([createOp(R1, 'FilePath', { object: rid(7).toUpperCase() }, NODE_A, 1)]);
    expect(state.records[0]?.data['object']).toBe(rid(7));
  });
});

describe('R1 DELETE is permanent', () => {
  it('delete then late update: stays deleted, the update is accepted but has no visible effect', () => {
    const result = merge([
      createOp(R1, 'Tag', { name: 'a' }, NODE_A, 1),
      deleteOp(R1, NODE_A, 2),
      updateOp(R1, 'name', 'b', NODE_B, 9),
    ]);
    expect(result.rejections).toEqual([]);
    expect(result.accepted).toHaveLength(3);
    expect(result.slice.records.get(R1)?.deleted).toBe(true);
  });

  it('a CREATE after a DELETE does not bring the record back, whatever its timestamp', () => {
    const ops = [
      createOp(R1, 'Tag', { name: 'a' }, NODE_A, 1),
      deleteOp(R1, NODE_A, 2),
      createOp(R1, 'Tag', { name: 'again' }, NODE_B, 50),
    ];
    expect(visible(ops).records).toEqual([]);
  });

  it('delete before create: the record is never visible', () => {
    const result = merge([deleteOp(R1, NODE_B, 5), createOp(R1, 'Tag', { name: 'a' }, NODE_A, 1)]);
    expect(result.slice.records.get(R1)?.deleted).toBe(true);
    expect(result.rejections).toEqual([]);
    expect(
      materialize(schema, logged([deleteOp(R1, NODE_B, 5), createOp(R1, 'Tag', {}, NODE_A, 1)]))
        .records,
    ).toEqual([]);
  });
});

describe('R3 ops before their CREATE', () => {
  it('update before create: kept pending, accepted into the feed, applied when the CREATE arrives', () => {
    const first = merge([updateOp(R1, 'name', 'later', NODE_B, 5)]);
    expect(first.accepted.map((l) => l.offset)).toEqual([0n]);
    expect(first.pendingAdded.map((l) => l.offset)).toEqual([0n]);
    expect(first.slice.records.has(R1)).toBe(false);
    expect(first.changedRecords).toEqual([]);

    const second = merge(
      [createOp(R1, 'Tag', { name: 'first', color: 'red' }, NODE_A, 1)],
      first.slice,
      1n,
    );
    expect(second.pendingResolved).toEqual([0n]);
    expect(second.pendingAdded).toEqual([]);
    expect(second.revoked).toEqual([]);
    expect(second.slice.pending.has(R1)).toBe(false);
    expect(second.changedRecords).toHaveLength(1);
    expect(second.changedRecords[0]?.fields['name']?.value).toBe('later');
    expect(second.changedRecords[0]?.fields['color']?.value).toBe('red');
  });

  it('an update older than the CREATE loses to the CREATE data', () => {
    const state = visible([
      updateOp(R1, 'name', 'older', NODE_B, 1),
      createOp(R1, 'Tag', { name: 'newer' }, NODE_A, 2),
    ]);
    expect(state.records[0]?.data['name']).toBe('newer');
  });

  it('ops for a record that is never created stay pending and invisible', () => {
    const result = merge([updateOp(R1, 'name', 'x', NODE_A, 1), deleteOp(R1, NODE_A, 2)]);
    expect(result.slice.pending.get(R1)?.map((l) => l.offset)).toEqual([0n, 1n]);
    expect(materialize(schema, logged([updateOp(R1, 'name', 'x', NODE_A, 1)])).records).toEqual([]);
  });

  it('a pending op added and resolved in the same batch is in neither pendingAdded nor pendingResolved', () => {
    const result = merge([
      updateOp(R1, 'name', 'x', NODE_A, 2),
      createOp(R1, 'Tag', {}, NODE_A, 1),
    ]);
    expect(result.pendingAdded).toEqual([]);
    expect(result.pendingResolved).toEqual([]);
    expect(result.accepted).toHaveLength(2);
  });
});

describe('R4 model', () => {
  it('rejects an UPDATE naming another model (MODEL_MISMATCH)', () => {
    expect(
      reasons([createOp(R1, 'Tag', {}, NODE_A, 1), updateOp(R1, 'name', 'x', NODE_A, 2, 'Label')]),
    ).toEqual([[1, 'MODEL_MISMATCH']]);
  });

  it('rejects a CREATE with another model (MODEL_MISMATCH)', () => {
    expect(
      reasons([createOp(R1, 'Tag', {}, NODE_A, 1), createOp(R1, 'Label', {}, NODE_B, 2)]),
    ).toEqual([[1, 'MODEL_MISMATCH']]);
  });

  it('model mismatch after delete is still rejected', () => {
    expect(
      reasons([
        createOp(R1, 'Tag', {}, NODE_A, 1),
        deleteOp(R1, NODE_A, 2),
        deleteOp(R1, NODE_A, 3, 'Album'),
      ]),
    ).toEqual([[2, 'MODEL_MISMATCH']]);
  });

  it('rejects a field the record model lacks (UNKNOWN_FIELD), also when it arrived first', () => {
    // size_in_bytes exists in FilePath, so the model-less UPDATE passes validation and waits.
    const ops = [updateOp(R1, 'size_in_bytes', 3, NODE_A, 2), createOp(R1, 'Tag', {}, NODE_A, 1)];
    expect(reasons(ops)).toEqual([[0, 'UNKNOWN_FIELD']]);
    expect(reasons([ops[1], ops[0]])).toEqual([[1, 'UNKNOWN_FIELD']]);
  });

  it('rejects a value of the wrong type for the record model (INVALID_VALUE)', () => {
    const mixed = parseSchema({
      models: {
        A: { kind: 'shared', fields: { x: 'int' } },
        B: { kind: 'shared', fields: { x: 'string' } },
      },
    });
    const ops = logged([updateOp(R1, 'x', 'text', NODE_A, 2), createOp(R1, 'A', {}, NODE_A, 1)]);
    const result = mergeBatch(mixed, emptySlice(), ops);
    expect(result.rejections.map((r) => r.reason)).toEqual(['INVALID_VALUE']);
  });

  it('rejects undeclared models, fields and bad values of ops that skipped schema validation', () => {
    expect(reasons([createOp(R1, 'Planet', {}, NODE_A, 1)])).toEqual([[0, 'UNKNOWN_MODEL']]);
    expect(reasons([createOp(R1, 'Tag', { mass: 1 }, NODE_A, 1)])).toEqual([[0, 'UNKNOWN_FIELD']]);
    expect(reasons([createOp(R1, 'Tag', { name: 1 }, NODE_A, 1)])).toEqual([[0, 'INVALID_VALUE']]);
    expect(reasons([updateOp(R1, 'nope', 1, NODE_A, 1)])).toEqual([[0, 'UNKNOWN_FIELD']]);
    expect(reasons([updateOp(R1, 'name', 1, NODE_A, 1)])).toEqual([[0, 'INVALID_VALUE']]);
    expect(reasons([deleteOp(R1, NODE_A, 1, 'Planet')])).toEqual([[0, 'UNKNOWN_MODEL']]);
  });

  it('a rejected CREATE does not create the record', () => {
    const result = merge([
      createOp(R1, 'Tag', { name: 1 }, NODE_A, 1),
      updateOp(R1, 'name', 'x', NODE_A, 2),
    ]);
    expect(result.slice.records.has(R1)).toBe(false);
    expect(result.slice.pending.get(R1)).toHaveLength(1);
  });
});

describe('R5 owned models', () => {
  const L = rid(2);

  it('owned write by a stranger is rejected (NOT_OWNER); the owner may write', () => {
    const result = merge([
      createOp(L, 'Location', { name: 'disk' }, NODE_A, 1),
      updateOp(L, 'name', 'mine', NODE_B, 2),
      deleteOp(L, NODE_B, 3),
      createOp(L, 'Location', { name: 'again' }, NODE_B, 4),
      updateOp(L, 'name', 'renamed', NODE_A, 5),
    ]);
    expect(result.rejections.map((r) => [Number(r.offset), r.reason])).toEqual([
      [1, 'NOT_OWNER'],
      [2, 'NOT_OWNER'],
      [3, 'NOT_OWNER'],
    ]);
    expect(result.slice.records.get(L)).toMatchObject({ owner: NODE_A, deleted: false });
    expect(result.slice.records.get(L)?.fields['name']?.value).toBe('renamed');
  });

  it('shared records have no owner', () => {
    expect(merge([createOp(R1, 'Tag', {}, NODE_A, 1)]).slice.records.get(R1)?.owner).toBeNull();
  });

  it("stranger's update kept pending, then rejected and revoked when the CREATE arrives", () => {
    const first = merge([
      updateOp(L, 'name', 'theirs', NODE_B, 5),
      updateOp(L, 'name', 'ours', NODE_A, 4),
    ]);
    expect(first.accepted).toHaveLength(2);
    expect(first.slice.accepted.size).toBe(2);

    const second = merge([createOp(L, 'Location', { name: 'disk' }, NODE_A, 1)], first.slice, 2n);
    expect(second.rejections).toEqual([
      expect.objectContaining({ offset: 0n, reason: 'NOT_OWNER', op: first.accepted[0]?.op }),
    ]);
    expect(second.revoked).toEqual([0n]);
    expect(second.pendingResolved).toEqual([0n, 1n]);
    expect(second.accepted.map((l) => l.offset)).toEqual([2n]);
    expect(second.slice.accepted.size).toBe(2); // the revoked identity is no longer accepted
    expect(second.slice.records.get(L)?.fields['name']?.value).toBe('ours');
  });

  it("stranger's pending op rejected in the same batch never reaches the feed", () => {
    const result = merge([deleteOp(L, NODE_B, 5), createOp(L, 'Location', {}, NODE_A, 1)]);
    expect(result.rejections.map((r) => r.reason)).toEqual(['NOT_OWNER']);
    expect(result.accepted.map((l) => l.offset)).toEqual([1n]);
    expect(result.revoked).toEqual([]);
    expect(result.slice.records.get(L)?.deleted).toBe(false);
  });

  it('the owner is the node of the first CREATE in log order', () => {
    const result = merge([
      createOp(L, 'Location', {}, NODE_B, 9),
      createOp(L, 'Location', {}, NODE_A, 1),
    ]);
    expect(result.slice.records.get(L)?.owner).toBe(NODE_B);
    expect(result.rejections.map((r) => r.reason)).toEqual(['NOT_OWNER']);
  });

  it('a deleted owned record still rejects strangers', () => {
    expect(
      reasons([
        createOp(L, 'Location', {}, NODE_A, 1),
        deleteOp(L, NODE_A, 2),
        updateOp(L, 'name', 'x', NODE_B, 3),
      ]),
    ).toEqual([[2, 'NOT_OWNER']]);
  });

  it('model mismatch is reported before ownership', () => {
    expect(
      reasons([createOp(L, 'Location', {}, NODE_A, 1), deleteOp(L, NODE_B, 2, 'Tag')]),
    ).toEqual([[1, 'MODEL_MISMATCH']]);
  });
});

describe('purity', () => {
  it('does not mutate the input slice', () => {
    const first = merge([
      createOp(R1, 'Tag', { name: 'a' }, NODE_A, 1),
      updateOp(rid(2), 'name', 'p', NODE_A, 1),
    ]);
    const before = snapshot(first.slice);
    merge(
      [
        updateOp(R1, 'name', 'b', NODE_A, 2),
        deleteOp(R1, NODE_A, 3),
        createOp(rid(2), 'Tag', {}, NODE_A, 0),
      ],
      first.slice,
      2n,
    );
    expect(snapshot(first.slice)).toBe(before);
  });
});
