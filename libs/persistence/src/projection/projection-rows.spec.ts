import { type Operation, defaultSchema, emptySlice, mergeBatch } from '@sync/protocol';
import {
  appendMergeResult,
  emptyChanges,
  fieldsFromStored,
  fromStoredClock,
  toStoredClock,
} from './projection-rows';

const schema = defaultSchema();
const library = '6f1d2c3b-4a59-4e68-8f7a-1b2c3d4e5f60';
const nodeA = '0a0a0a0a-0000-4000-8000-00000000000a';
const nodeB = '0b0b0b0b-0000-4000-8000-00000000000b';
const tag = '1c1c1c1c-0000-4000-8000-00000000001c';
const object = '2d2d2d2d-0000-4000-8000-00000000002d';

const at = (hybrid: number) => ({ hybrid: String(hybrid) });
const logged = (ops: Operation[], first = 0) =>
  ops.map((op, i) => ({ offset: BigInt(first + i), op }));

describe('stored clocks and fields', () => {
  it('round-trips clocks beyond 2^53 exactly', () => {
    const clock = { hybrid: 18446744073709551615n, node: nodeA };
    expect(toStoredClock(clock)).toEqual(['18446744073709551615', nodeA]);
    expect(fromStoredClock(toStoredClock(clock))).toEqual(clock);
  });

  it('counts a field as written iff it has a clock (a written null stays written)', () => {
    const fields = fieldsFromStored(
      { name: null, color: 'red', is_hidden: null },
      { name: ['5', nodeA], color: ['6', nodeB] },
    );
    expect(fields).toEqual({
      name: { value: null, clock: { hybrid: 5n, node: nodeA } },
      color: { value: 'red', clock: { hybrid: 6n, node: nodeB } },
    });
  });
});

describe('appendMergeResult', () => {
  it('writes full declared data, clocks of written fields, and counters', () => {
    const batch = logged([
      {
        type: 'CREATE',
        recordId: tag,
        model: 'Tag',
        data: { name: 'x' },
        node: nodeA,
        timestamp: at(100),
      },
      {
        type: 'UPDATE',
        recordId: object,
        field: 'note',
        value: 'early',
        node: nodeB,
        timestamp: at(101),
      },
      { type: 'UPDATE', recordId: tag, field: 'kind', value: 1, node: nodeB, timestamp: at(102) },
    ]);
    const changes = emptyChanges();
    appendMergeResult(changes, schema, library, 3, batch, mergeBatch(schema, emptySlice(), batch));
    expect(changes.records).toEqual([
      {
        libraryId: library,
        recordId: tag,
        model: 'Tag',
        owner: null,
        deleted: false,
        data: { name: 'x', color: null, is_hidden: null, date_created: null, date_modified: null },
        clocks: { name: ['100', nodeA] },
        compactClocks: `name;0;100;${nodeA}`,
        updatedOffset: 0n,
      },
    ]);
    expect(changes.pendingAdded).toEqual([
      expect.objectContaining({ offset: 1n, recordId: object }),
    ]);
    expect(changes.operations.map((o) => o.offset)).toEqual([0n, 1n]);
    expect(changes.rejections).toEqual([
      expect.objectContaining({ offset: 2n, reason: 'UNKNOWN_FIELD' }),
    ]);
    expect(changes.libraries).toEqual([
      {
        libraryId: library,
        partition: 3,
        operations: 2,
        rejected: 1,
        firstOffset: 0n,
        lastOffset: 2n,
      },
    ]);
  });

  it('gives a row the offset of the last accepted op targeting it, however the log is cut', () => {
    const ops: Operation[] = [
      {
        type: 'CREATE',
        recordId: tag,
        model: 'Tag',
        data: { name: 'x' },
        node: nodeA,
        timestamp: at(200),
      },
      { type: 'UPDATE', recordId: tag, field: 'name', value: 'y', node: nodeA, timestamp: at(300) },
      // Older than the current write: changes nothing, but is an accepted op on the row.
      {
        type: 'UPDATE',
        recordId: tag,
        field: 'name',
        value: 'old',
        node: nodeB,
        timestamp: at(250),
      },
      // Rejected: does not count.
      { type: 'UPDATE', recordId: tag, field: 'kind', value: 1, node: nodeB, timestamp: at(400) },
    ];
    const whole = emptyChanges();
    appendMergeResult(
      whole,
      schema,
      library,
      0,
      logged(ops),
      mergeBatch(schema, emptySlice(), logged(ops)),
    );

    const first = mergeBatch(schema, emptySlice(), logged(ops.slice(0, 2)));
    const split = emptyChanges();
    appendMergeResult(
      split,
      schema,
      library,
      0,
      logged(ops.slice(2), 2),
      mergeBatch(schema, first.slice, logged(ops.slice(2), 2)),
    );

    expect(whole.records).toHaveLength(1);
    expect(whole.records[0].updatedOffset).toBe(2n);
    expect(split.records).toEqual(whole.records);
  });
});
