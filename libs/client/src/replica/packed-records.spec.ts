import fc from 'fast-check';
import {
  type LibrarySlice,
  type RecordState,
  defaultSchema,
  emptySlice,
  mergeBatch,
} from '@sync/protocol';
import { NODE_A, NODE_B, NODE_C, logged, smallWorldOp } from '@sync/protocol/testing';
import { type PackedRecord, PackedRecords, isSnapshotLine } from './packed-records';
import { decodeSlice, encodeSlice, encodeSliceRows, storedSliceRows } from './slice-codec';
import { snapshotRecordLine } from './snapshot-slice';
import { checkWireRecord } from './wire-record';
import { ReplicaLineReader, replicaLines } from '../store/replica-lines';

/*
 * Packing changes nothing the engine or a reader sees: every row comes back equal to the row
 * set, field by field in the same order, with the very same value and clock objects, and the
 * map iterates as a Map of the rows would.
 */

const schema = defaultSchema();
const opArb = smallWorldOp({ nodes: [NODE_A, NODE_B, NODE_C], maxTick: 30, tags: 3, objects: 3 });

function expectSameRow(actual: RecordState | undefined, expected: RecordState): void {
  expect(actual).toEqual(expected);
  const row = actual as RecordState;
  expect(Object.keys(row.fields)).toEqual(Object.keys(expected.fields));
  for (const [name, write] of Object.entries(expected.fields)) {
    expect(row.fields[name].value).toBe(write.value);
    expect(row.fields[name].clock).toBe(write.clock);
  }
}

/** How each row is kept, in order: packed, as its line (`id line`), or as compact text (`id #text`). */
const kept = (map: PackedRecords) =>
  [...map.storedEntries()].map(([id, r]) =>
    typeof r !== 'string' ? 'packed' : isSnapshotLine(r) ? `${id} ${r}` : `${id} #${r}`,
  );

/**
 * Saved as a slice and as a store's lines, then loaded again: `records` keeps the same texts and
 * gives the same rows.
 */
function expectReloaded(slice: LibrarySlice, records: PackedRecords): void {
  const packed = { ...slice, records };
  const lines = [...replicaLines({ version: 3, cursor: null }, encodeSliceRows(packed))];
  const reader = new ReplicaLineReader();
  for (const line of JSON.parse(JSON.stringify(lines)) as string[]) reader.add(line);
  for (const stored of [encodeSlice(packed), reader.finish().slice]) {
    const again = decodeSlice(stored).records as PackedRecords;
    expect(kept(again)).toEqual(kept(records));
    expect(new Map(again)).toEqual(slice.records);
  }
}

describe('PackedRecords', () => {
  it('gives back exactly the rows set, in the same order', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => {
        const rows = mergeBatch(schema, emptySlice(), logged(ops)).slice.records;
        const packed = new PackedRecords(rows);
        expect(packed.size).toBe(rows.size);
        expect([...packed.keys()]).toEqual([...rows.keys()]);
        for (const [id, row] of rows) {
          expect(packed.has(id)).toBe(true);
          expectSameRow(packed.get(id), row);
        }
        const expected = [...rows.values()];
        [...packed.values()].forEach((row, i) => expectSameRow(row, expected[i]));
        [...packed].forEach(([id, row], i) => {
          expect(id).toBe(expected[i].recordId);
          expectSameRow(row, expected[i]);
        });
        const seen: string[] = [];
        packed.forEach((row, id) => {
          expectSameRow(row, rows.get(id) as RecordState);
          seen.push(id);
        });
        expect(seen).toEqual([...rows.keys()]);
        expect(new Map(packed)).toEqual(rows);
      }),
      { numRuns: 300 },
    );
  });

  it('saves the same rows straight from the packed records as from the rebuilt ones', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => {
        const slice = mergeBatch(schema, emptySlice(), logged(ops)).slice;
        const packed = { ...slice, records: new PackedRecords(slice.records) };
        const rows = [...encodeSliceRows(packed)];
        expect(rows).toEqual([...encodeSliceRows(slice)]);
        expect(rows.map((row) => JSON.stringify(row))).toEqual(
          [...encodeSliceRows(slice)].map((row) => JSON.stringify(row)),
        );
      }),
      { numRuns: 300 },
    );
  });

  it('saves odd field names (integer-like, Object.prototype members) as the rebuilt rows do', () => {
    const clock = { hybrid: 5n, node: NODE_A };
    const fields = Object.fromEntries(
      ['b', '10', '__proto__', '2', 'constructor'].map((name, i) => [name, { value: i, clock }]),
    );
    const row: RecordState = { recordId: 'r', model: 'Tag', owner: NODE_B, deleted: true, fields };
    const slice = { ...emptySlice(), records: new Map([['r', row]]) };
    const packed = { ...slice, records: new PackedRecords(slice.records) };
    expect([...encodeSliceRows(packed)].map((r) => JSON.stringify(r))).toEqual(
      [...encodeSliceRows(slice)].map((r) => JSON.stringify(r)),
    );
  });

  it('replaces a row set again, and keeps a field named like an Object.prototype member', () => {
    const clock = { hybrid: 5n, node: NODE_A };
    const row = (value: string): RecordState => ({
      recordId: 'r',
      model: 'Tag',
      owner: null,
      deleted: false,
      fields: Object.fromEntries([
        ['__proto__', { value, clock }],
        ['name', { value, clock }],
      ]),
    });
    const packed = new PackedRecords([['r', row('a')]]);
    packed.set('r', { ...row('b'), deleted: true });
    expectSameRow(packed.get('r'), { ...row('b'), deleted: true });
    expect(Object.hasOwn((packed.get('r') as RecordState).fields, '__proto__')).toBe(true);
    expect(packed.get('missing')).toBeUndefined();
  });

  it('shares one names array per list of field names, and never between different lists', () => {
    const clock = { hybrid: 1n, node: NODE_A };
    const nameArb = fc.constantFrom('a', 'b', 'c', '__proto__', '1', 'a,b', '');
    const listArb = fc.uniqueArray(nameArb, { maxLength: 4 });
    fc.assert(
      fc.property(fc.array(listArb, { maxLength: 12 }), (given) => {
        // Rows keep Object.keys order (integer-like names first).
        const lists = given.map((names) =>
          Object.keys(Object.fromEntries(names.map((n) => [n, 0]))),
        );
        const packed = new PackedRecords(
          lists.map((names, i): [string, RecordState] => [
            `r${i}`,
            {
              recordId: `r${i}`,
              model: 'Tag',
              owner: null,
              deleted: false,
              fields: Object.fromEntries(names.map((name) => [name, { value: i, clock }])),
            },
          ]),
        );
        const shapes = [...packed.storedEntries()].map(([, p]) => (p as PackedRecord).names);
        shapes.forEach((shape, i) => {
          expect(shape).toEqual(lists[i]);
          shapes.forEach((other, j) => {
            const same = JSON.stringify(lists[i]) === JSON.stringify(lists[j]);
            expect(shape === other).toBe(same);
          });
        });
      }),
      { numRuns: 300 },
    );
  });

  it('keeps snapshot rows as text until read, saves and loads that text, reads the rows', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), fc.nat(), (ops, seed) => {
        const slice = mergeBatch(schema, emptySlice(), logged(ops)).slice;
        const rows = [...slice.records.values()];
        const records = new PackedRecords();
        const how = (i: number) => Math.floor(seed / 3 ** (i % 19)) % 3;
        // Rows packed, kept as their line (setLine) or compact (setSnapshotRecord), in order.
        rows.forEach((row, i) => {
          const line = JSON.stringify(snapshotRecordLine(row));
          if (how(i) === 0) records.set(row.recordId, row);
          else if (how(i) === 1) records.setLine(row.recordId, line);
          else records.setSnapshotRecord(checkWireRecord(JSON.parse(line)), line);
        });
        const expected = rows.map((row, i): unknown =>
          how(i) === 0
            ? 'packed'
            : how(i) === 1
              ? `${row.recordId} ${JSON.stringify(snapshotRecordLine(row))}`
              : expect.stringMatching(new RegExp(`^${row.recordId} #\\d`)),
        );
        expect(kept(records)).toEqual(expected);
        // Saved as kept: lines and compact texts as they are, the tables before the first text.
        const packed = { ...slice, records };
        const saved = [...encodeSliceRows(packed)].filter((row) => row[0] !== 'relation');
        const texts = kept(records).filter((k) => k !== 'packed');
        const compactAt = saved.findIndex((row) => row[0] === 'compactRecord');
        expect(saved.findIndex((row) => row[0] === 'compactTables')).toBe(
          compactAt < 0 ? -1 : compactAt - 1,
        );
        expect(
          saved.flatMap((row) =>
            row[0] === 'wireRecord'
              ? [`${JSON.parse(row[1]).id} ${row[1]}`]
              : row[0] === 'compactRecord'
                ? [`${row[1]} #${row[2]}`]
                : [],
          ),
        ).toEqual(texts);
        expect([...storedSliceRows(encodeSlice(packed))]).toEqual([...encodeSliceRows(packed)]);
        expectReloaded(slice, records);
        // Read once, each row is the row its text was made of, and is kept packed after.
        expect(new Map(records)).toEqual(slice.records);
        expect(kept(records).every((k) => k === 'packed')).toBe(true);
        [...records.values()].forEach((row, i) => expect(row).toEqual(rows[i]));
        expect([...records.keys()]).toEqual(rows.map((r) => r.recordId));
      }),
      { numRuns: 300 },
    );
  });

  it('keeps lines with compact clocks as text too, saves and loads them, reads the rows', () => {
    const jsonbOrder = (a: string, b: string) =>
      a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), fc.nat(), (ops, seed) => {
        const slice = mergeBatch(schema, emptySlice(), logged(ops)).slice;
        const rows = [...slice.records.values()];
        const records = new PackedRecords();
        const asLine = (i: number) => ((seed >> (i % 30)) & 1) === 1;
        const lines = rows.map((row) => JSON.stringify(snapshotRecordLine(row, 'compact')));
        // Kept as the line (a store's wireRecord) or, as a snapshot's, always as compact text.
        rows.forEach((row, i) => {
          if (asLine(i)) records.setLine(row.recordId, lines[i]);
          else records.setSnapshotRecord(checkWireRecord(JSON.parse(lines[i])), lines[i]);
        });
        expect(kept(records)).toEqual(
          rows.map((row, i): unknown =>
            asLine(i)
              ? `${row.recordId} ${lines[i]}`
              : expect.stringMatching(new RegExp(`^${row.recordId} #\\d`)),
          ),
        );
        expectReloaded(slice, records);
        expect(new Map(records)).toEqual(slice.records);
        expect(kept(records).every((k) => k === 'packed')).toBe(true);
        for (const [id, row] of records) {
          const names = Object.keys((slice.records.get(id) as RecordState).fields);
          expect(Object.keys(row.fields)).toEqual(names.sort(jsonbOrder));
        }
      }),
      { numRuns: 300 },
    );
  });

  /** A Tag row `r` whose fields were all written by one op, and a map keeping it as text. */
  function keptAsText(how: Keep, values: Record<string, string>, owner: string | null) {
    const clock = { hybrid: 5n, node: NODE_A };
    const row: RecordState = {
      recordId: 'r',
      model: 'Tag',
      owner,
      deleted: false,
      fields: Object.fromEntries(
        Object.entries(values).map(([name, value]) => [name, { value, clock }]),
      ),
    };
    const records = new PackedRecords();
    const line = JSON.stringify(snapshotRecordLine(row));
    if (how === 'line') records.setLine('r', line);
    else records.setSnapshotRecord(checkWireRecord(JSON.parse(line)), line);
    return { row, records };
  }

  type Keep = 'line' | 'compact';
  const keeps: Keep[] = ['line', 'compact'];

  it.each(keeps)('decodes a row kept as %s text once: get() keeps it packed after', (how) => {
    const { row, records } = keptAsText(how, { name: 'a', color: 'b' }, NODE_B);
    expect(typeof [...records.storedEntries()][0][1]).toBe('string');
    const first = records.get('r') as RecordState;
    expect(first).toEqual(row);
    expect(first.fields.name.clock).toBe(first.fields.color.clock);
    expect(typeof [...records.storedEntries()][0][1]).toBe('object');
    expectSameRow(records.get('r'), first);
  });

  it.each(keeps)('replaces a row kept as %s text when the row is set', (how) => {
    const { row, records } = keptAsText(how, { name: 'a' }, null);
    records.set('r', { ...row, deleted: true });
    expect(records.get('r')).toEqual({ ...row, deleted: true });
    expect(typeof [...records.storedEntries()][0][1]).toBe('object');
  });

  it('keeps a line with leading blanks, and a snapshot row with too many clocks, as lines', () => {
    const { row } = keptAsText('line', { name: 'a' }, null);
    const records = new PackedRecords();
    const line = JSON.stringify(snapshotRecordLine(row));
    records.setLine('r', ` \n${line}`);
    expect([...records.storedEntries()]).toEqual([['r', line]]);
    expect(records.get('r')).toEqual(row);
    const clocks = Object.fromEntries(
      Array.from({ length: 40 }, (_, i) => [`f${i}`, [String(i + 1), NODE_A]]),
    );
    const many = JSON.stringify({ ...snapshotRecordLine(row), id: 'm', data: {}, clocks });
    records.setSnapshotRecord(checkWireRecord(JSON.parse(many)), many);
    expect([...records.storedEntries()][1]).toEqual(['m', many]);
    expect(Object.keys((records.get('m') as RecordState).fields)).toHaveLength(40);
  });
});
