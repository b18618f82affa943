import { defaultSchema } from '../schema/default-schema';
import {
  NODE_A,
  NODE_B,
  createOp,
  deleteOp,
  logged,
  rid,
  updateOp,
} from '../testing/operation-builders';
import { contentHash } from '../operation/canonical-json';
import { emptySlice, mergeBatch } from './merge-engine';
import { identityKey } from '../hlc/clock-order';

const schema = defaultSchema();
const R1 = rid(1);

describe('D1 duplicates', () => {
  const create = createOp(R1, 'Tag', { name: 'a' }, NODE_A, 1);

  it('same identity twice in one batch: the second is a duplicate, not an error', () => {
    const result = mergeBatch(schema, emptySlice(), logged([create, { ...create }]));
    expect(result.duplicates).toEqual([1n]);
    expect(result.rejections).toEqual([]);
    expect(result.accepted.map((l) => l.offset)).toEqual([0n]);
  });

  it('same identity across batches: duplicate, nothing changes', () => {
    const first = mergeBatch(schema, emptySlice(), logged([create]));
    const second = mergeBatch(schema, first.slice, logged([create], 1n));
    expect(second.duplicates).toEqual([1n]);
    expect(second.changedRecords).toEqual([]);
    expect(second.accepted).toEqual([]);
  });

  it('same identity, different content: DUPLICATE_CONFLICT, the first one stands', () => {
    const conflicting = { ...create, data: { name: 'b' } };
    const result = mergeBatch(schema, emptySlice(), logged([create, conflicting]));
    expect(result.rejections).toEqual([
      expect.objectContaining({ offset: 1n, reason: 'DUPLICATE_CONFLICT', op: conflicting }),
    ]);
    expect(result.slice.records.get(R1)?.fields['name']?.value).toBe('a');
  });

  it('the same hybrid from another node is another op', () => {
    const other = { ...create, node: NODE_B };
    const result = mergeBatch(schema, emptySlice(), logged([create, other]));
    expect(result.duplicates).toEqual([]);
    expect(result.accepted).toHaveLength(2);
  });

  it('an op rejected earlier is not accepted: a different op with its identity is evaluated afresh', () => {
    const bad = updateOp(R1, 'name', 'x', NODE_A, 2, 'Label');
    const good = updateOp(R1, 'name', 'y', NODE_A, 2);
    const result = mergeBatch(schema, emptySlice(), logged([create, bad, good, bad]));
    expect(result.rejections.map((r) => [Number(r.offset), r.reason])).toEqual([
      [1, 'MODEL_MISMATCH'],
      [3, 'DUPLICATE_CONFLICT'],
    ]);
    expect(result.slice.records.get(R1)?.fields['name']?.value).toBe('y');
  });

  it('a revoked pending op can be sent again and is evaluated again', () => {
    const L = rid(2);
    const stranger = deleteOp(L, NODE_B, 5);
    const first = mergeBatch(schema, emptySlice(), logged([stranger]));
    const second = mergeBatch(
      schema,
      first.slice,
      logged([createOp(L, 'Location', {}, NODE_A, 1)], 1n),
    );
    expect(second.revoked).toEqual([0n]);
    const third = mergeBatch(schema, second.slice, logged([stranger], 2n));
    expect(third.duplicates).toEqual([]);
    expect(third.rejections.map((r) => r.reason)).toEqual(['NOT_OWNER']);
  });

  it('records the identity and content hash of accepted ops', () => {
    const result = mergeBatch(schema, emptySlice(), logged([create]));
    expect(result.slice.accepted.get(identityKey(NODE_A, create.timestamp.hybrid))).toEqual({
      offset: 0n,
      contentHash: contentHash(create),
    });
  });
});
