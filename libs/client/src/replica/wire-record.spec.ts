import fc from 'fast-check';
import { type RecordState, defaultSchema, emptySlice, mergeBatch } from '@sync/protocol';
import { NODE_A, NODE_B, NODE_C, logged, smallWorldOp } from '@sync/protocol/testing';
import { snapshotRecordLine } from './snapshot-slice';
import { ClockInterner, SnapshotFormatError, checkWireRecord } from './wire-record';

/*
 * A record kept as its snapshot line decodes to exactly the row the line was made of, and a
 * line that could fail to decode later is refused when it arrives.
 */

const schema = defaultSchema();
const opArb = smallWorldOp({ nodes: [NODE_A, NODE_B, NODE_C], maxTick: 30, tags: 3, objects: 3 });

const lineOf = (row: RecordState) => JSON.stringify(snapshotRecordLine(row));

describe('wire records', () => {
  it('decode to the row their line was made of, fields in order, clocks shared per row', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => {
        const rows = mergeBatch(schema, emptySlice(), logged(ops)).slice.records;
        const interner = new ClockInterner();
        for (const row of rows.values()) {
          const line = lineOf(row);
          expect(checkWireRecord(JSON.parse(line))).toMatchObject({ id: row.recordId });
          const decoded = interner.record(line);
          expect(decoded).toEqual(row);
          expect(Object.keys(decoded.fields)).toEqual(Object.keys(row.fields));
          // Fields written by one op share one Clock object, as the engine's rows do.
          const names = Object.keys(row.fields);
          for (const a of names) {
            for (const b of names) {
              const same = row.fields[a].clock === row.fields[b].clock;
              if (same) expect(decoded.fields[a].clock).toBe(decoded.fields[b].clock);
            }
          }
        }
      }),
      { numRuns: 200 },
    );
  });

  it('share node ids between rows, and keep a field named __proto__ an own key', () => {
    const interner = new ClockInterner();
    // As text: an object literal would take "__proto__" for the prototype.
    const line = (id: string, hybrid: string) =>
      `{"type":"record","id":"${id}","model":"Tag","owner":"${NODE_B}","deleted":false,` +
      `"data":{"__proto__":"x"},"clocks":{"__proto__":["${hybrid}","${NODE_B}"]}}`;
    const a = interner.record(line('a', '5'));
    const b = interner.record(line('b', '6'));
    expect(Object.hasOwn(a.fields, '__proto__')).toBe(true);
    expect(a.fields['__proto__']).toEqual({ value: 'x', clock: { hybrid: 5n, node: NODE_B } });
    expect(a.fields['__proto__'].clock.node).toBe(b.fields['__proto__'].clock.node);
    expect(a.owner).toBe(b.owner);
  });

  it('are refused when malformed, with what is wrong', () => {
    const good = {
      type: 'record',
      id: 'r1',
      model: 'Tag',
      owner: null,
      deleted: false,
      data: { name: 'a' },
      clocks: { name: ['12', NODE_A] },
    };
    expect(checkWireRecord(good)).toBe(good);
    const bad: [unknown, RegExp][] = [
      [null, /not an object/],
      [[good], /not an object/],
      [{ ...good, id: 7 }, /without its id or model/],
      [{ ...good, model: undefined }, /without its id or model/],
      [{ ...good, owner: 3 }, /owner or deleted/],
      [{ ...good, deleted: 'no' }, /owner or deleted/],
      [{ ...good, data: [] }, /data or clocks/],
      [{ ...good, clocks: null }, /data or clocks/],
      [{ ...good, clocks: { name: ['1e3', NODE_A] } }, /clock of field name/],
      [{ ...good, clocks: { name: ['18446744073709551616', NODE_A] } }, /clock of field name/],
      [{ ...good, clocks: { name: ['012', NODE_A] } }, /clock of field name/],
      [{ ...good, clocks: { name: [12, NODE_A] } }, /clock of field name/],
      [{ ...good, clocks: { name: ['12'] } }, /clock of field name/],
      [{ ...good, clocks: { name: ['12', null] } }, /clock of field name/],
    ];
    for (const [value, message] of bad) {
      expect(() => checkWireRecord(value)).toThrow(SnapshotFormatError);
      expect(() => checkWireRecord(value)).toThrow(message);
    }
  });
});
