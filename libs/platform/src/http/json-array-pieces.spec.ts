import fc from 'fast-check';
import { parseJsonArrayInPieces } from './json-array-pieces';

/** JSON.parse's answer for `text`, or 'invalid'. */
function wholeParse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return 'invalid';
  }
}

const inPieces = (text: string, pieceBytes: number) =>
  parseJsonArrayInPieces(Buffer.from(text, 'utf8'), pieceBytes);

/** Arrays printed compactly or indented, with strings full of quotes, commas and brackets. */
const arrayText = fc
  .tuple(
    fc.array(
      fc.oneof(
        fc.jsonValue(),
        fc.string({ unit: fc.constantFrom('"', '\\', ',', '[', ']', '{', '}', 'é', '😀', 'a') }),
      ),
      { maxLength: 30 },
    ),
    fc.constantFrom(undefined, 1, '\t'),
    fc.constantFrom('', ' \n', '\r\n\t'),
  )
  .map(([elements, indent, padding]) => padding + JSON.stringify(elements, null, indent) + padding);

describe('parseJsonArrayInPieces', () => {
  it('gives exactly the elements JSON.parse gives, for any piece size', () => {
    fc.assert(
      fc.property(arrayText, fc.integer({ min: 0, max: 64 }), (text, pieceBytes) => {
        expect(inPieces(text, pieceBytes)).toEqual(JSON.parse(text));
      }),
      { numRuns: 500 },
    );
  });

  it('cuts into several pieces when the array is large', () => {
    const elements = Array.from({ length: 200 }, (_, i) => ({ id: i, name: `a "quoted", [${i}]` }));
    const parse = jest.spyOn(JSON, 'parse');
    try {
      expect(inPieces(JSON.stringify(elements), 1024)).toEqual(elements);
      const pieces = parse.mock.calls.map(([text]) => String(text).length);
      expect(pieces.length).toBeGreaterThan(5);
      // Every piece near the size asked for, none the whole body.
      expect(Math.max(...pieces)).toBeLessThan(1024 + 100);
    } finally {
      parse.mockRestore();
    }
  });

  it('never accepts what JSON.parse refuses, nor answers differently', () => {
    // Valid arrays with a few bytes deleted, doubled or replaced by structural characters.
    const damaged = fc
      .tuple(
        arrayText,
        fc.array(
          fc.tuple(fc.nat(), fc.constantFrom('', ',', '"', '\\', '[', ']', '{', '}', ' ', '1')),
          { minLength: 1, maxLength: 3 },
        ),
      )
      .map(([text, edits]) =>
        edits.reduce((t, [at, put]) => {
          const i = t.length === 0 ? 0 : at % t.length;
          return t.slice(0, i) + put + t.slice(i + 1);
        }, text),
      );
    fc.assert(
      fc.property(damaged, fc.integer({ min: 0, max: 32 }), (text, pieceBytes) => {
        // Compared on the same bytes: a cut surrogate pair encodes as U+FFFD.
        const utf8 = Buffer.from(text, 'utf8');
        const result = parseJsonArrayInPieces(utf8, pieceBytes);
        if (result !== undefined) expect(result).toEqual(wholeParse(utf8.toString('utf8')));
      }),
      { numRuns: 2000 },
    );
  });

  it.each([
    ['[]', []],
    [' [ \n ] ', []],
    ['[,1]', undefined],
    ['[1,]', undefined],
    ['[1,,2]', undefined],
    ['[}', undefined],
    ['[1]]', undefined],
    ['[[1]', undefined],
    ['[1] x', undefined],
    ['["a\\\\",1]', ['a\\', 1]],
    ['["\\"",1]', ['"', 1]],
    ['{"a":[1,2]}', undefined],
    ['"[1,2]"', undefined],
    ['', undefined],
  ])('%j with one-byte pieces: %j', (text, expected) => {
    expect(inPieces(text, 1)).toEqual(expected);
  });

  it('keeps __proto__ an own key, as JSON.parse does', () => {
    const [first] = inPieces('[{"__proto__":{"x":1}},2]', 1) as [Record<string, unknown>];
    expect(Object.getPrototypeOf(first)).toBe(Object.prototype);
    expect(Object.hasOwn(first, '__proto__')).toBe(true);
  });
});
