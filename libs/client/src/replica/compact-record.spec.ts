import fc from 'fast-check';
import { type JsonValue, defaultSchema, emptySlice, mergeBatch, setOwn } from '@sync/protocol';
import { NODE_A, NODE_B, NODE_C, logged, smallWorldOp } from '@sync/protocol/testing';
import { CompactRecordCodec, type CompactTables } from './compact-record';
import { FieldShapes } from './field-shapes';
import { snapshotRecordLine } from './snapshot-slice';
import { ClockInterner, type WireClock, type WireRecord, checkWireRecord } from './wire-record';

/*
 * A record kept as compact text is the record its line describes: it decodes to the row the line
 * decodes to, here and in a codec that adopted this one's tables (a store's load), and a text
 * that would not decode is refused when it is loaded.
 */

const schema = defaultSchema();
const opArb = smallWorldOp({ nodes: [NODE_A, NODE_B, NODE_C], maxTick: 30, tags: 3, objects: 3 });

/** A checked wire record of the line `line`, as the snapshot builder has it. */
const parsed = (line: string): WireRecord => checkWireRecord(JSON.parse(line));

/** Encodes `line` with `codec` and decodes it here and through the tables; checks the rows. */
function expectSameRecord(codec: CompactRecordCodec, interner: ClockInterner, line: string): void {
  const wire = parsed(line);
  const text = codec.encode(wire);
  if (text === undefined) throw new Error('not encoded');
  const expected = interner.record(line);
  const decoded = codec.decode(wire.id, text);
  expect(decoded).toEqual(expected);
  expect(Object.keys(decoded.fields)).toEqual(Object.keys(expected.fields));
  const names = Object.keys(wire.clocks);
  for (const a of names) {
    expect(Object.hasOwn(decoded.fields, a)).toBe(true);
    // Fields written by one op share one Clock object, as the engine's rows do.
    for (const b of names) {
      const same =
        wire.clocks[a][0] === wire.clocks[b][0] && wire.clocks[a][1] === wire.clocks[b][1];
      expect(decoded.fields[a].clock === decoded.fields[b].clock).toBe(same);
    }
  }
  const loaded = new CompactRecordCodec(new ClockInterner(), new FieldShapes());
  loaded.adopt(JSON.parse(JSON.stringify(codec.tables())) as CompactTables);
  loaded.check(text);
  const again = loaded.decode(wire.id, text);
  expect(again).toEqual(expected);
  expect(Object.keys(again.fields)).toEqual(names);
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
