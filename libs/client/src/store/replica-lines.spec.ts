import fc from 'fast-check';
import { NODE_A, createOp, rid } from '@sync/protocol/testing';
import type { JsonValue } from '../protocol';
import {
  type StoredRecord,
  type StoredRelation,
  type StoredSliceChange,
  type StoredSliceChangeRow,
  type StoredSliceRow,
  storedSliceChangeRows,
  storedSliceRows,
} from '../replica/slice-codec';
import { ReplicaLineReader, changeLinePieces, replicaLines } from './replica-lines';

/* An append's line in pieces must be exactly JSON.stringify's text of the change it holds. */

describe('changeLinePieces', () => {
  const clock = fc.tuple(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String), fc.uuid());
  const fields = fc.dictionary(
    fc.string({ maxLength: 6 }),
    fc.record({ value: fc.jsonValue({ maxDepth: 2 }).map((v) => v as JsonValue), clock }),
    { maxKeys: 3 },
  );
  const record: fc.Arbitrary<StoredRecord> = fc.record({
    recordId: fc.uuid(),
    model: fc.constantFrom('Tag', 'Object'),
    owner: fc.option(fc.uuid(), { nil: null }),
    deleted: fc.boolean(),
    fields,
  });
  const relation: fc.Arbitrary<StoredRelation> = fc.record({
    relation: fc.constant('TagOnObject'),
    item: fc.uuid(),
    group: fc.uuid(),
    presence: fc.record({ exists: fc.boolean(), clock }),
    fields,
  });
  const logged = fc.record({
    offset: fc.nat().map(String),
    op: fc.constant(createOp(rid(1), 'Tag', { name: 'n' }, NODE_A, 1)),
  });
  const change: fc.Arbitrary<StoredSliceChange> = fc.record({
    records: fc.array(record, { maxLength: 4 }),
    relations: fc.array(relation, { maxLength: 3 }),
    pending: fc.array(
      fc.tuple(fc.uuid(), fc.option(fc.array(logged, { maxLength: 2 }), { nil: null })),
      {
        maxLength: 3,
      },
    ),
    accepted: fc.array(
      fc.tuple(
        fc.string({ maxLength: 12 }),
        fc.option(fc.tuple(fc.nat().map(String), fc.hexaString({ maxLength: 8 })), { nil: null }),
      ),
      { maxLength: 4 },
    ),
  });
  const header = fc.record({
    version: fc.constantFrom(1 as const, 2 as const),
    cursor: fc.option(fc.nat().map(String), { nil: null }),
  });

  it("joins to JSON.stringify's text of the change, with and without extra members", () => {
    fc.assert(
      fc.property(header, change, fc.nat(), (h, c, generation) => {
        const rows = () => storedSliceChangeRows(c);
        expect([...changeLinePieces(h, rows())].join('')).toBe(
          JSON.stringify({ ...h, changes: c }),
        );
        expect([...changeLinePieces(h, rows(), { generation })].join('')).toBe(
          JSON.stringify({ ...h, changes: c, generation }),
        );
        // Parsed, what JSON gives back of the change (a -0 in a value comes back 0).
        const roundTrip: unknown = JSON.parse(JSON.stringify({ ...h, changes: c }));
        expect(JSON.parse([...changeLinePieces(h, rows())].join(''))).toEqual(roundTrip);
      }),
      { numRuns: 300 },
    );
  });

  it('stringifies each row as a piece of its own', () => {
    const c: StoredSliceChange = {
      records: [],
      relations: [],
      pending: [['r1', null]],
      accepted: [
        ['a', ['1', 'h1']],
        ['b', null],
      ],
    };
    expect([...changeLinePieces({ version: 2, cursor: '9' }, storedSliceChangeRows(c))]).toEqual([
      '{"version":2,"cursor":"9","changes":{"records":[',
      '],"relations":[',
      '],"pending":[',
      '["r1",null]',
      '],"accepted":[',
      '["a",["1","h1"]]',
      ',["b",null]',
      ']}}',
    ]);
  });

  it("refuses rows out of their lists' order", () => {
    const rows: StoredSliceChangeRow[] = [
      ['accepted', 'a', null],
      ['pending', 'r1', null],
    ];
    expect(() => [...changeLinePieces({ version: 2, cursor: null }, rows)]).toThrow(
      'change rows out of order: pending after accepted',
    );
  });
});

describe('replica lines', () => {
  const wire = (id: string, name: string) =>
    `{"type":"record","id":"${id}","model":"Tag","owner":null,"deleted":false,` +
    `"data":{"name":${JSON.stringify(name)}},"clocks":{"name":["7","${NODE_A}"]}}`;

  it('write a snapshot line as it is and read it back as the same text', () => {
    const record = {
      recordId: 'b',
      model: 'Tag',
      owner: null,
      deleted: false,
      fields: { name: { value: 'n', clock: ['7', NODE_A] as [string, string] } },
    };
    const rows: StoredSliceRow[] = [
      ['wireRecord', wire('a', 'ä "q" \u2028')],
      ['record', record],
    ];
    const lines = [...replicaLines({ version: 2, cursor: '9' }, rows)];
    expect(lines[1]).toBe(`["wireRecord",${wire('a', 'ä "q" \u2028')}]`);
    expect(JSON.parse(lines[1])).toEqual(['wireRecord', JSON.parse(wire('a', 'ä "q" \u2028'))]);
    const reader = new ReplicaLineReader();
    for (const line of lines) reader.add(line);
    const replica = reader.finish();
    expect(replica.slice.records).toEqual([
      { recordId: 'a', line: wire('a', 'ä "q" \u2028') },
      record,
    ]);
    expect([...storedSliceRows(replica.slice)]).toEqual(rows);
  });

  it('refuse a stored snapshot line that is malformed', () => {
    const reader = new ReplicaLineReader();
    reader.add('{"version":2,"cursor":null}');
    expect(() => reader.add(`["wireRecord",${wire('a', 'x').replace('"7"', '"x7"')}]`)).toThrow(
      /clock of field name/,
    );
  });

  it('refuse a compact record without its text or before its tables', () => {
    const reader = new ReplicaLineReader();
    reader.add('{"version":3,"cursor":null}');
    expect(() => reader.add('["compactRecord","a","0;;0;0;7;0\\n{}"]')).toThrow(
      /before compactTables/,
    );
    reader.add(`["compactTables",{"nodes":["${NODE_A}"],"kinds":[["Tag",["name"]]]}]`);
    expect(() => reader.add('["compactRecord","a"]')).toThrow(/without its id or text/);
    reader.add('["compactRecord","a","0;;0;0;7;0\\n{}"]');
    expect(reader.finish().slice).toMatchObject({
      compactTables: { nodes: [NODE_A], kinds: [['Tag', ['name']]] },
      records: [{ recordId: 'a', compact: '0;;0;0;7;0\n{}' }],
    });
  });
});
