import { defaultSchema } from '../schema/default-schema';
import {
  NODE_A,
  NODE_B,
  createOp,
  deleteOp,
  logged,
  relCreateOp,
  relDeleteOp,
  relUpdateOp,
  rid,
} from '../testing/operation-builders';
import { Operation } from '../operation/operation.types';
import { materialize } from './materialize';
import { emptySlice, mergeBatch, relationKey, touchedKeys } from './merge-engine';
import { isRelationVisible } from './relation-visibility';

const schema = defaultSchema();
const OBJ = rid(1);
const TAG = rid(2);
const KEY = relationKey('TagOnObject', OBJ, TAG);
const records = [createOp(OBJ, 'Object', {}, NODE_A, 1), createOp(TAG, 'Tag', {}, NODE_A, 2)];
const visible = (ops: Operation[]) => materialize(schema, logged(ops)).relations;

describe('L1 presence', () => {
  it('a relation before its item waits, and shows once both ends exist', () => {
    const early = mergeBatch(
      schema,
      emptySlice(),
      logged([relCreateOp('TagOnObject', OBJ, TAG, NODE_B, 5)]),
    );
    expect(early.slice.relations.get(KEY)?.presence.exists).toBe(true);
    expect(early.rejections).toEqual([]);
    expect(visible([relCreateOp('TagOnObject', OBJ, TAG, NODE_B, 5)])).toEqual([]);
    expect(visible([relCreateOp('TagOnObject', OBJ, TAG, NODE_B, 5), ...records])).toEqual([
      { relation: 'TagOnObject', item: OBJ, group: TAG, data: { date_created: null } },
    ]);
  });

  it('re-add after remove: the greatest CREATE/DELETE decides, in any arrival order', () => {
    const ops = [
      relCreateOp('TagOnObject', OBJ, TAG, NODE_A, 10),
      relDeleteOp('TagOnObject', OBJ, TAG, NODE_B, 20),
      relCreateOp('TagOnObject', OBJ, TAG, NODE_A, 30),
    ];
    for (const order of [ops, [...ops].reverse(), [ops[2], ops[0], ops[1]]]) {
      expect(visible([...records, ...order])).toHaveLength(1);
    }
    const removed = ops.slice(0, 2);
    for (const order of [removed, [...removed].reverse()]) {
      expect(visible([...records, ...order])).toEqual([]);
    }
  });

  it('equal hybrids are ordered by node', () => {
    const ops = [
      relCreateOp('TagOnObject', OBJ, TAG, NODE_B, 10),
      relDeleteOp('TagOnObject', OBJ, TAG, NODE_A, 10),
    ];
    expect(visible([...records, ...ops])).toHaveLength(1);
    expect(visible([...records, ...[...ops].reverse()])).toHaveLength(1);
  });
});

describe('L2 relation fields', () => {
  it('follow last writer wins over CREATE data and UPDATEs, updates before the CREATE included', () => {
    const ops = [
      relUpdateOp('TagOnObject', OBJ, TAG, 'date_created', '2024-03-01', NODE_B, 7),
      relCreateOp('TagOnObject', OBJ, TAG, NODE_A, 5, { date_created: '2024-01-01' }),
    ];
    expect(visible([...records, ...ops])[0]?.data).toEqual({ date_created: '2024-03-01' });
    const older = [
      relCreateOp('TagOnObject', OBJ, TAG, NODE_A, 9, { date_created: '2024-09-09' }),
      ops[0],
    ];
    expect(visible([...records, ...older])[0]?.data).toEqual({ date_created: '2024-09-09' });
  });

  it('rejects unknown relations, fields and values', () => {
    const result = mergeBatch(
      schema,
      emptySlice(),
      logged([
        relCreateOp('TagOnTag', OBJ, TAG, NODE_A, 1),
        relCreateOp('Tag', OBJ, TAG, NODE_A, 2),
        relCreateOp('TagOnObject', OBJ, TAG, NODE_A, 3, { weight: 1 }),
        relUpdateOp('TagOnObject', OBJ, TAG, 'date_created', 5, NODE_A, 4),
      ]),
    );
    expect(result.rejections.map((r) => r.reason)).toEqual([
      'UNKNOWN_MODEL',
      'UNKNOWN_MODEL',
      'UNKNOWN_FIELD',
      'INVALID_VALUE',
    ]);
    expect(result.slice.relations.size).toBe(0);
  });
});

describe('L3 visibility', () => {
  const rel = relCreateOp('TagOnObject', OBJ, TAG, NODE_A, 5);

  it('disappears when its item or group is deleted', () => {
    expect(visible([...records, rel, deleteOp(OBJ, NODE_A, 9)])).toEqual([]);
    expect(visible([...records, rel, deleteOp(TAG, NODE_A, 9)])).toEqual([]);
  });

  it('needs ends of the declared models', () => {
    const wrong = [createOp(OBJ, 'Album', {}, NODE_A, 1), createOp(TAG, 'Tag', {}, NODE_A, 2)];
    expect(visible([...wrong, rel])).toEqual([]);
  });

  it('isRelationVisible checks each condition', () => {
    const state = mergeBatch(schema, emptySlice(), logged([...records, rel])).slice;
    const r = state.relations.get(KEY)!;
    const item = state.records.get(OBJ);
    const group = state.records.get(TAG);
    expect(isRelationVisible(schema, r, item, group)).toBe(true);
    expect(isRelationVisible(schema, r, undefined, group)).toBe(false);
    expect(isRelationVisible(schema, r, group, item)).toBe(false);
    expect(
      isRelationVisible(schema, { ...r, presence: { ...r.presence, exists: false } }, item, group),
    ).toBe(false);
    expect(isRelationVisible(schema, r, { ...item!, deleted: true }, group)).toBe(false);
  });
});

describe('touchedKeys', () => {
  it('lists each record id, relation key and identity once', () => {
    const ops = logged([
      ...records,
      createOp(OBJ, 'Object', {}, NODE_A, 1),
      relCreateOp('TagOnObject', OBJ, TAG, NODE_A, 5),
      relDeleteOp('TagOnObject', OBJ, TAG, NODE_A, 6),
    ]);
    const keys = touchedKeys(ops);
    expect(keys.recordIds).toEqual([OBJ, TAG]);
    expect(keys.relationKeys).toEqual([{ relation: 'TagOnObject', item: OBJ, group: TAG }]);
    expect(keys.identities).toHaveLength(4);
    expect(keys.identities[0]).toEqual({
      node: NODE_A,
      hybrid: BigInt(records[0].timestamp.hybrid),
    });
  });
});
