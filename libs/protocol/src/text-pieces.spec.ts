import fc from 'fast-check';
import { TextPieces } from './text-pieces';

function piecesOf(texts: readonly string[], pieceChars: number): string[] {
  const pieces: string[] = [];
  const writer = new TextPieces((piece) => pieces.push(piece), pieceChars);
  for (const text of texts) writer.add(text);
  writer.finish();
  return pieces;
}

describe('TextPieces', () => {
  it('hands over the texts joined, in pieces cut only once they reach the size', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ maxLength: 40 })),
        fc.integer({ min: 1, max: 64 }),
        (texts, size) => {
          const pieces = piecesOf(texts, size);
          expect(pieces.join('')).toBe(texts.join(''));
          expect(pieces.every((piece) => piece.length > 0)).toBe(true);
          // Every piece but the last reached the size; none went past it by more than one text.
          const longest = Math.max(0, ...texts.map((text) => text.length));
          for (const piece of pieces.slice(0, -1)) {
            expect(piece.length).toBeGreaterThanOrEqual(size);
            expect(piece.length).toBeLessThan(size + longest);
          }
          if (pieces.length > 0)
            expect(pieces[pieces.length - 1].length).toBeLessThan(size + longest);
        },
      ),
    );
  });

  it('hands over nothing for nothing', () => {
    expect(piecesOf([], 8)).toEqual([]);
    expect(piecesOf(['', ''], 8)).toEqual([]);
  });

  it('hands over a piece as soon as it is long enough, before finish', () => {
    const pieces: string[] = [];
    const writer = new TextPieces((piece) => pieces.push(piece), 4);
    writer.add('ab');
    expect(pieces).toEqual([]);
    writer.add('cd');
    expect(pieces).toEqual(['abcd']);
    writer.add('e');
    writer.finish();
    expect(pieces).toEqual(['abcd', 'e']);
  });
});
