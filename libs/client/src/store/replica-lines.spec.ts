import fc from 'fast-check';
import { jsonPieces } from './replica-lines';

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
