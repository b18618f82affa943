import fc from 'fast-check';
import {
  CLOCK_DIGITS,
  type FieldWrite,
  type JsonValue,
  type RecordState,
  compactClocks,
  defaultSchema,
  emptySlice,
  mergeBatch,
  parseCompactClocks,
  setOwn,
} from '@sync/protocol';
import { NODE_A, NODE_B, NODE_C, logged, smallWorldOp } from '@sync/protocol/testing';
import { CompactRecordCodec, type CompactTables } from './compact-record';
import { FieldShapes } from './field-shapes';
import { snapshotRecordLine } from './snapshot-slice';
import { ClockInterner, type WireClock, type WireRecord, checkWireRecord } from './wire-record';

/*
 * A record kept as compact text is the record its line describes: it decodes to the row the line
 * decodes to, here and in a codec that adopted this one's tables (a store's load), and a text
 * that would not decode is refused when it is loaded. A line whose clocks came as compact text
 * (clocks=compact) encodes to the very text its object form does, as a server sends it (fields in
 * jsonb's key order).
 */

const schema = defaultSchema();
const opArb = smallWorldOp({ nodes: [NODE_A, NODE_B, NODE_C], maxTick: 30, tags: 3, objects: 3 });

/** A checked wire record of the line `line`, as the snapshot builder has it. */
const parsed = (line: string): WireRecord => checkWireRecord(JSON.parse(line));

/** The line's field clocks, by name in the line's order, whichever form it spells them in. */
function clockList(wire: WireRecord): [string, WireClock][] {
  if (typeof wire.clocks !== 'string') return Object.entries(wire.clocks);
  const compact = parseCompactClocks(wire.clocks);
  if (compact === undefined) throw new Error(`not compact clocks: ${wire.clocks}`);
  return compact.names.map((name, i) => {
    const k = CLOCK_DIGITS.indexOf(compact.picks[i]);
    return [name, [compact.hybrids[k], compact.nodes[k]]];
  });
}

/** Whether each two fields of `row` share a Clock object exactly when `clocks` says they are equal. */
function expectSharedClocks(row: RecordState, clocks: [string, WireClock][]): void {
  for (const [a, ca] of clocks) {
    expect(Object.hasOwn(row.fields, a)).toBe(true);
    // Fields written by one op share one Clock object, as the engine's rows do.
    for (const [b, cb] of clocks) {
      const same = ca[0] === cb[0] && ca[1] === cb[1];
      expect(row.fields[a].clock === row.fields[b].clock).toBe(same);
    }
  }
}

/** Encodes `line` with `codec` and decodes it here and through the tables; checks the rows. */
function expectSameRecord(codec: CompactRecordCodec, interner: ClockInterner, line: string): void {
  const wire = parsed(line);
  const text = codec.encode(wire);
  if (text === undefined) throw new Error('not encoded');
  const expected = interner.record(line);
  const decoded = codec.decode(wire.id, text);
  expect(decoded).toEqual(expected);
  expect(Object.keys(decoded.fields)).toEqual(Object.keys(expected.fields));
  const clocks = clockList(wire);
  const names = clocks.map(([name]) => name);
  expectSharedClocks(decoded, clocks);
  const loaded = new CompactRecordCodec(new ClockInterner(), new FieldShapes());
  loaded.adopt(JSON.parse(JSON.stringify(codec.tables())) as CompactTables);
  loaded.check(text);
  const again = loaded.decode(wire.id, text);
  expect(again).toEqual(expected);
  expect(Object.keys(again.fields)).toEqual(names);
}

/** jsonb's order of an object's keys (Postgres prints `clocks` so): shorter first, then by bytes. */
const jsonbOrder = (a: string, b: string) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);

/** A record's line as the query service prints it: clocks by field, in jsonb's key order. */
function objectLine(row: RecordState): string {
  const line = snapshotRecordLine(row) as { clocks: Record<string, WireClock> };
  const clocks: Record<string, WireClock> = {};
  for (const name of Object.keys(line.clocks).sort(jsonbOrder)) {
    setOwn(clocks, name, line.clocks[name]);
  }
  return JSON.stringify({ ...line, clocks });
}

/** A record's line with clocks=compact: clocks as compactClocks' text. */
function compactLine(row: RecordState): string {
  const line = snapshotRecordLine(row, 'compact');
  expect(typeof line.clocks).toBe('string');
  return JSON.stringify(line);
}

/**
 * Encodes each row's object line with one codec and its compact line (or, where `compact` is
 * false, its object line) with another: the same texts and tables; then both lines decode alike.
 */
function expectFormsAlike(rows: RecordState[], compact: (i: number) => boolean): void {
  const objectInterner = new ClockInterner();
  const objectCodec = new CompactRecordCodec(objectInterner, new FieldShapes());
  const interner = new ClockInterner();
  const codec = new CompactRecordCodec(interner, new FieldShapes());
  const lines = rows.map((row) => ({ object: objectLine(row), compact: compactLine(row) }));
  const texts = lines.map(({ object, compact: line }, i) => {
    const text = objectCodec.encode(parsed(object));
    expect(text).toBeDefined();
    expect(codec.encode(parsed(compact(i) ? line : object))).toBe(text);
    return text;
  });
  expect(codec.tables()).toEqual(objectCodec.tables());
  // Again in either form, each record checked long before it is encoded (not the last one).
  const wires = lines.flatMap(({ object, compact: line }) => [parsed(line), parsed(object)]);
  wires.forEach((wire, i) => expect(codec.encode(wire)).toBe(texts[i >> 1]));
  rows.forEach((row, i) => {
    const { object, compact: line } = lines[i];
    const fromObject = objectInterner.record(object);
    const fromCompact = interner.record(line);
    expect(fromCompact).toEqual(row);
    expect(fromObject).toEqual(row);
    const names = Object.keys(row.fields).sort(jsonbOrder);
    expect(Object.keys(fromCompact.fields)).toEqual(names);
    expect(Object.keys(fromObject.fields)).toEqual(names);
    expectSharedClocks(fromCompact, clockList(parsed(line)));
    expectSharedClocks(fromObject, clockList(parsed(object)));
    expect(codec.decode(row.recordId, texts[i] as string)).toEqual(row);
    expectSameRecord(codec, interner, line);
    expectSameRecord(codec, interner, object);
  });
}

/** A record line with any names, values, models and nodes (JSON text: `__proto__` stays a key). */
const wireLineArb = fc
  .record({
    id: fc.string(),
    model: fc.string(),
    owner: fc.option(fc.string(), { nil: null }),
    deleted: fc.boolean(),
    data: fc.array(fc.tuple(fc.string(), fc.jsonValue()), { maxLength: 6 }),
    names: fc.uniqueArray(fc.oneof(fc.string(), fc.constantFrom('__proto__', '1', 'a;b', '\n')), {
      maxLength: 8,
    }),
    clocks: fc.array(
      fc.tuple(
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String),
        fc.oneof(fc.constantFrom(NODE_A, NODE_B), fc.string()),
      ),
      { minLength: 1, maxLength: 4 },
    ),
    picks: fc.array(fc.nat(), { minLength: 8, maxLength: 8 }),
  })
  .map(({ id, model, owner, deleted, data, names, clocks, picks }) => {
    const values: Record<string, JsonValue> = {};
    for (const [name, value] of data) setOwn(values, name, value as JsonValue);
    const fieldClocks: Record<string, WireClock> = {};
    names.forEach((name, i) => setOwn(fieldClocks, name, clocks[picks[i] % clocks.length]));
    const pairs = (o: object) =>
      Object.entries(o).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`);
    return (
      `{"type":"record","id":${JSON.stringify(id)},"model":${JSON.stringify(model)},` +
      `"owner":${JSON.stringify(owner)},"deleted":${deleted},"data":{${pairs(values).join(',')}},` +
      `"clocks":{${pairs(fieldClocks).join(',')}}}`
    );
  });

describe('CompactRecordCodec', () => {
  it('keeps the rows the engine merges: the same row decoded, the same line rebuilt', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => {
        const interner = new ClockInterner();
        const codec = new CompactRecordCodec(interner, new FieldShapes());
        const rows = mergeBatch(schema, emptySlice(), logged(ops)).slice.records;
        for (const row of rows.values()) {
          expectSameRecord(codec, interner, JSON.stringify(snapshotRecordLine(row)));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('encodes a line with compact clocks to the text of its object form, and decodes it alike', () => {
    fc.assert(
      fc.property(
        fc.array(opArb, { maxLength: 60 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 10 }),
        (ops, forms) => {
          const rows = mergeBatch(schema, emptySlice(), logged(ops)).slice.records;
          // A server may answer either form for any row.
          expectFormsAlike([...rows.values()], (i) => forms[i % forms.length]);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('encodes compact clocks alike for any names, nodes and up to 36 distinct clocks', () => {
    const rowArb = fc
      .record({
        id: fc.string(),
        model: fc.string(),
        owner: fc.option(fc.constantFrom(NODE_A, NODE_C), { nil: null }),
        deleted: fc.boolean(),
        names: fc.uniqueArray(fc.stringMatching(/^[A-Za-z_]\w{0,6}$/), { maxLength: 45 }),
        clocks: fc.array(
          fc.tuple(
            fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
            fc.oneof(
              fc.constantFrom(NODE_A, NODE_B),
              // Printable, no separator, quote or backslash (what compact clocks may hold).
              fc.stringMatching(/^[!#-+\--:<-[\]-~\u00e9\u4e2d]{1,8}$/),
            ),
          ),
          { minLength: 1, maxLength: 40 },
        ),
        picks: fc.array(fc.nat(), { minLength: 45, maxLength: 45 }),
        value: fc.jsonValue(),
      })
      .map(({ id, model, owner, deleted, names, clocks, picks, value }): RecordState => {
        const fields: Record<string, FieldWrite> = {};
        names.forEach((name, i) => {
          const [hybrid, node] = clocks[picks[i] % clocks.length];
          setOwn(fields, name, { value: value as JsonValue, clock: { hybrid, node } });
        });
        return { recordId: id, model, owner, deleted, fields };
      });
    fc.assert(
      fc.property(fc.array(rowArb, { maxLength: 6 }), fc.boolean(), (rows, mixed) => {
        const fits = rows.filter((row) => compactClocks(row.fields) !== null);
        for (const row of rows.filter((r) => !fits.includes(r))) {
          // More distinct clocks than a compact text lists: the object form stays a line.
          const codec = new CompactRecordCodec(new ClockInterner(), new FieldShapes());
          expect(codec.encode(parsed(objectLine(row)))).toBeUndefined();
        }
        expectFormsAlike(fits, (i) => !mixed || i % 2 === 0);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps any names, values, models, owners and nodes a checked line may hold', () => {
    fc.assert(
      fc.property(fc.array(wireLineArb, { maxLength: 8 }), (lines) => {
        // One codec for all: rows of different kinds and nodes share its tables.
        const interner = new ClockInterner();
        const codec = new CompactRecordCodec(interner, new FieldShapes());
        const texts = lines.map((line) => codec.encode(parsed(line)));
        lines.forEach((line, i) => {
          const wire = parsed(line);
          expect(codec.decode(wire.id, texts[i] as string)).toEqual(interner.record(line));
          expectSameRecord(codec, interner, line);
        });
      }),
      { numRuns: 500 },
    );
  });

  it('lists up to 36 distinct clocks, and leaves a row with more to its line', () => {
    const codec = new CompactRecordCodec(new ClockInterner(), new FieldShapes());
    const record = (distinct: number): WireRecord =>
      parsed(
        JSON.stringify({
          type: 'record',
          id: 'r',
          model: 'Tag',
          owner: null,
          deleted: false,
          data: {},
          clocks: Object.fromEntries(
            Array.from({ length: 40 }, (_, i) => [`f${i}`, [String(i % distinct), NODE_A]]),
          ),
        }),
      );
    const text = codec.encode(record(36)) as string;
    const row = codec.decode('r', text);
    expect(row.fields.f35.clock).toEqual({ hybrid: 35n, node: NODE_A });
    expect(row.fields.f39.clock).toBe(row.fields.f3.clock);
    expect(codec.encode(record(37))).toBeUndefined();
  });

  it('is about a third of the line for a record whose fields three ops wrote', () => {
    const interner = new ClockInterner();
    const codec = new CompactRecordCodec(interner, new FieldShapes());
    const clock = (hybrid: string): WireClock => [hybrid, '911bcb72-c626-43fa-b039-bdee21cc6ad1'];
    const names = ['name', 'cas_id', 'is_dir', 'object', 'location', 'extension', 'date_created'];
    const line = JSON.stringify({
      type: 'record',
      id: '43f207cd-fee2-4a9a-8cd1-41d046ac9965',
      model: 'FilePath',
      data: Object.fromEntries(names.map((name) => [name, `${name} value`])),
      deleted: false,
      owner: '911bcb72-c626-43fa-b039-bdee21cc6ad1',
      clocks: Object.fromEntries(
        names.map((name, i) => [
          name,
          clock(['7576322310144016032', '7576322310144000032', '7576322310144032032'][i % 3]),
        ]),
      ),
    });
    const text = codec.encode(parsed(line)) as string;
    expect(text.length).toBeLessThan(line.length / 2.5);
    expectSameRecord(codec, interner, line);
  });

  it('refuses text that would not decode, and tables that are not for a new codec', () => {
    const interner = new ClockInterner();
    const codec = new CompactRecordCodec(interner, new FieldShapes());
    const line = JSON.stringify({
      type: 'record',
      id: 'r',
      model: 'Tag',
      owner: NODE_B,
      deleted: false,
      data: { name: 'a', color: 'b' },
      clocks: { name: ['7', NODE_A], color: ['8', NODE_A] },
    });
    const text = codec.encode(parsed(line)) as string;
    expect(text).toBe('0;0;0;01;7;1;8;1\n{"name":"a","color":"b"}');
    codec.check(text);
    const broken = [
      '',
      'x',
      text.replace('0;0;0;01', '1;0;0;01'), // no kind 1
      text.replace('0;0;0;01', '0;2;0;01'), // no node 2
      text.replace('0;0;0;01', '0;0;2;01'),
      text.replace('0;0;0;01', '0;0;0;0'), // one field short
      text.replace('0;0;0;01', '0;0;0;02'), // no third clock
      text.replace('0;0;0;01', '0;0;0;0A'),
      text.replace(';7;', ';07;'),
      text.replace(';8;1', ';8;9'),
      text.replace(';8;1', ';8'),
      text.replace('{"name"', '["name"').replace('}', ']'),
      text.slice(0, -1),
    ];
    for (const bad of broken) expect(() => codec.check(bad)).toThrow(/compact record: malformed/);
    const used = new CompactRecordCodec(new ClockInterner(), new FieldShapes());
    used.encode(parsed(line));
    expect(() => used.adopt(codec.tables())).toThrow(/after rows were numbered/);
    const tables = codec.tables();
    const fresh = () => new CompactRecordCodec(new ClockInterner(), new FieldShapes());
    expect(() => fresh().adopt({ ...tables, nodes: [NODE_A, NODE_A] })).toThrow(/node 1/);
    expect(() => fresh().adopt({ ...tables, kinds: [...tables.kinds, tables.kinds[0]] })).toThrow(
      /kind 1/,
    );
    expect(() => fresh().adopt({ nodes: [], kinds: [['Tag', [3]]] } as never)).toThrow(/kind 0/);
  });
});
