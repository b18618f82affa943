import fc from 'fast-check';
import { defaultSchema } from '../schema/default-schema';
import {
  NODE_A,
  NODE_B,
  createOp,
  deleteOp,
  logged,
  relCreateOp,
  rid,
} from '../testing/operation-builders';
import type { Operation } from '../operation/operation.types';
import { smallWorldOp } from '../testing/op-arbitrary';
import { materializeSlice, sliceDigest } from './materialize';
import { emptySlice, mergeBatch } from './merge-engine';
import {
  isRecordVisible,
  isRelationVisible,
  recordView,
  relationView,
} from './relation-visibility';
import { stateDigest } from './state-digest';

/*
 * The visible state of a slice, against a reference written here without its order: records that
 * are not deleted, relations whose ends are visible (L3), views in no particular order, sorted
 * by stateDigest itself.
 */

const schema = defaultSchema();
const opArb = smallWorldOp({ nodes: [NODE_A, NODE_B], maxTick: 8, tags: 3, objects: 4 });

function mergedSlice(ops: readonly Operation[]) {
  return mergeBatch(schema, emptySlice(), logged(ops)).slice;
}

describe('materializeSlice and sliceDigest', () => {
  it('give the visible rows in the digest order, and the digest of those views', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 40 }), (ops) => {
        const slice = mergedSlice(ops);
        const records = [...slice.records.values()]
          .filter(isRecordVisible)
          .map((r) => recordView(schema, r));
        const relations = [...slice.relations.values()]
          .filter((r) =>
            isRelationVisible(schema, r, slice.records.get(r.item), slice.records.get(r.group)),
          )
          .map((r) => relationView(schema, r));
        const expected = stateDigest({ records, relations });

        const state = materializeSlice(schema, slice);
        expect(state.records.map((r) => r.id)).toEqual(records.map((r) => r.id).sort());
        expect(state.relations).toHaveLength(relations.length);
        expect(stateDigest(state)).toEqual(expected);
        expect(sliceDigest(schema, slice)).toEqual(expected);
      }),
    );
  });

  it('leave out deleted records and the relations to them', () => {
    const [tag, object, deleted] = [rid(1), rid(10), rid(11)];
    const slice = mergedSlice([
      // One tick per op: an op's identity is its node and hybrid.
      createOp(tag, 'Tag', { name: 't' }, NODE_A, 1),
      createOp(object, 'Object', { note: 'o' }, NODE_A, 2),
      createOp(deleted, 'Object', { note: 'd' }, NODE_A, 3),
      relCreateOp('TagOnObject', object, tag, NODE_A, 4, {}),
      relCreateOp('TagOnObject', deleted, tag, NODE_A, 5, {}),
      deleteOp(deleted, NODE_B, 6),
    ]);
    const state = materializeSlice(schema, slice);
    expect(state.records.map((r) => r.id)).toEqual([tag, object]);
    expect(state.relations.map((r) => r.item)).toEqual([object]);
    expect(sliceDigest(schema, slice)).toEqual(stateDigest(state));
    expect(sliceDigest(schema, slice).records).toBe(2);
  });
});
