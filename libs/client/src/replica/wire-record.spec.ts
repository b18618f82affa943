import fc from 'fast-check';
import { type RecordState, defaultSchema, emptySlice, mergeBatch } from '@sync/protocol';
import { NODE_A, NODE_B, NODE_C, logged, smallWorldOp } from '@sync/protocol/testing';
import { snapshotRecordLine } from './snapshot-slice';
import { ClockInterner, SnapshotFormatError, checkWireRecord } from './wire-record';

/*
 * A record kept as its snapshot line decodes to exactly the row the line was made of, its clocks
 * by field or as compact text, and a line that could fail to decode later is refused when it
 * arrives.
 */

const schema = defaultSchema();
const opArb = smallWorldOp({ nodes: [NODE_A, NODE_B, NODE_C], maxTick: 30, tags: 3, objects: 3 });

const lineOf = (row: RecordState) => JSON.stringify(snapshotRecordLine(row));

/** jsonb's order of an object's keys (Postgres prints `clocks` so): shorter first, then by bytes. */
const jsonbOrder = (a: string, b: string) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);

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

  it('with compact clocks decode to the row too, fields in jsonb order, one Clock per clock', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => {
        const rows = mergeBatch(schema, emptySlice(), logged(ops)).slice.records;
        const interner = new ClockInterner();
        for (const row of rows.values()) {
          const line = JSON.stringify(snapshotRecordLine(row, 'compact'));
          const wire = checkWireRecord(JSON.parse(line));
          expect(typeof wire.clocks).toBe('string');
          const decoded = interner.record(line);
          expect(decoded).toEqual(row);
          expect(Object.keys(decoded.fields)).toEqual(Object.keys(row.fields).sort(jsonbOrder));
          expect(interner.fields(wire.data, wire.clocks)).toEqual(decoded.fields);
          const names = Object.keys(row.fields);
          for (const a of names) {
            for (const b of names) {
              const same = row.fields[a].clock === row.fields[b].clock;
              expect(decoded.fields[a].clock === decoded.fields[b].clock).toBe(same);
            }
          }
        }
      }),
      { numRuns: 200 },
    );
  });

  it('with compact clocks share node ids with object lines, and keep __proto__ an own key', () => {
    const interner = new ClockInterner();
    const object = interner.record(
      `{"type":"record","id":"a","model":"Tag","owner":null,"deleted":false,` +
        `"data":{},"clocks":{"name":["4","${NODE_B}"]}}`,
    );
    const line =
      `{"type":"record","id":"b","model":"Tag","owner":"${NODE_B}","deleted":true,` +
      `"data":{"__proto__":"x","name":"n","extra":1},` +
      `"clocks":"name,color,__proto__;010;5;${NODE_B};6;${NODE_A}"}`;
    expect(checkWireRecord(JSON.parse(line))).toMatchObject({ id: 'b', deleted: true });
    const row = interner.record(line);
    expect(Object.keys(row.fields)).toEqual(['name', 'color', '__proto__']);
    expect(Object.hasOwn(row.fields, '__proto__')).toBe(true);
    expect(row.fields['__proto__']).toEqual({ value: 'x', clock: { hybrid: 5n, node: NODE_B } });
    expect(row.fields.name).toEqual({ value: 'n', clock: { hybrid: 5n, node: NODE_B } });
    // A field with a clock and no value is written (null); a value without a clock is not.
    expect(row.fields.color).toEqual({ value: null, clock: { hybrid: 6n, node: NODE_A } });
    expect(row.fields.name.clock).toBe(row.fields['__proto__'].clock);
    expect(row.fields.name.clock.node).toBe(object.fields.name.clock.node);
    expect(row.owner).toBe(object.fields.name.clock.node);
    expect(row).toMatchObject({ recordId: 'b', model: 'Tag', deleted: true });
    expect(interner.record(line.replace(/"clocks":"[^"]*"/, '"clocks":";"')).fields).toEqual({});
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
    for (const clocks of [`name;0;12;${NODE_A}`, ';', `id,kind;01;12;${NODE_A};12;${NODE_B}`]) {
      const compact = { ...good, clocks };
      expect(checkWireRecord(compact)).toBe(compact);
    }
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
      [{ ...good, clocks: 12 }, /data or clocks/],
      [{ ...good, data: [], clocks: `name;0;12;${NODE_A}` }, /data or clocks/],
      [{ ...good, data: null, clocks: `name;0;12;${NODE_A}` }, /data or clocks/],
      // Compact clocks: exactly what compactClocks prints, else refused.
      ...[
        '',
        'x',
        'name',
        ';;',
        `name;0;12`,
        `name;;12;${NODE_A}`,
        `name;00;12;${NODE_A}`,
        `name;1;12;${NODE_A}`,
        `name;A;12;${NODE_A}`,
        `name;0;12;${NODE_A};13;${NODE_A}`, // a clock no field has
        `name,kind;01;12;${NODE_A};12;${NODE_A}`, // one clock twice
        `name,kind;10;12;${NODE_A};13;${NODE_A}`, // not numbered by first use
        `kind,id;00;12;${NODE_A}`, // not in jsonb's key order
        `name,name;00;12;${NODE_A}`,
        `na-me;0;12;${NODE_A}`,
        `1;0;12;${NODE_A}`,
        `name;0;012;${NODE_A}`,
        `name;0;1e3;${NODE_A}`,
        `name;0;18446744073709551616;${NODE_A}`,
        `name;0;12;`,
        `name;0;12;a,b`,
        `name;0;12;${NODE_A};`,
        ` name;0;12;${NODE_A}`,
        `name;0;12;${NODE_A}\n`,
      ].map((clocks): [unknown, RegExp] => [{ ...good, clocks }, /r1: its compact clocks/]),
    ];
    for (const [value, message] of bad) {
      expect(() => checkWireRecord(value)).toThrow(SnapshotFormatError);
      expect(() => checkWireRecord(value)).toThrow(message);
    }
  });
});
