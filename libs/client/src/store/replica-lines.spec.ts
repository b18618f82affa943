import fc from 'fast-check';
import { NODE_A } from '@sync/protocol/testing';
import { type StoredSliceRow, storedSliceRows } from '../replica/slice-codec';
import { ReplicaLineReader, jsonPieces, replicaLines } from './replica-lines';

/* jsonPieces must give exactly JSON.stringify's text, however deep it opens the value. */

describe('jsonPieces', () => {
  it("joins to JSON.stringify's text at every depth", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.integer({ min: 0, max: 5 }), (value, depth) => {
        expect([...jsonPieces(value, depth)].join('')).toBe(JSON.stringify(value));
      }),
      { numRuns: 500 },
    );
  });

  it('leaves out undefined members, as JSON.stringify does', () => {
    const value = { a: undefined, b: [1, { c: undefined, d: 'x' }], e: null };
    expect([...jsonPieces(value, 3)].join('')).toBe(JSON.stringify(value));
  });

  it('stringifies members below the depth one piece each', () => {
    const rows = [{ id: 1 }, { id: 2 }];
    expect([...jsonPieces({ rows }, 2)]).toEqual([
      '{',
      '"rows":',
      '[',
      '{"id":1}',
      ',',
      '{"id":2}',
      ']',
      '}',
    ]);
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
});
