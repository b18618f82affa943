import fc from 'fast-check';
import { TEXT_PIECE_SIZE } from '../protocol';
import { readLines } from './ndjson-lines';

/** A body of `bytes` arriving in chunks cut at `cuts` (byte positions). */
function chunked(bytes: Uint8Array, cuts: number[]): ReadableStream<Uint8Array> {
  const ends = [...new Set(cuts)].sort((a, b) => a - b);
  return new ReadableStream<Uint8Array>({
    start(controller) {
      let start = 0;
      for (const end of [...ends, bytes.length]) {
        if (end > start) controller.enqueue(bytes.slice(start, end));
        start = Math.max(start, end);
      }
      controller.close();
    },
  });
}

async function linesOf(bytes: Uint8Array, cuts: number[], piece?: number): Promise<string[]> {
  const lines: string[] = [];
  await readLines(chunked(bytes, cuts), (line) => lines.push(line), undefined, piece);
  return lines;
}

// Lines of any length up to three pieces, with multi-byte characters (a cut may fall inside one).
const line = fc
  .tuple(fc.integer({ min: 0, max: 3 * TEXT_PIECE_SIZE }), fc.string({ maxLength: 4 }))
  .map(([size, tail]) => `é${'x'.repeat(size)}😀${tail.replace(/\n/g, '')}`);

describe('readLines', () => {
  it('gives every line whole, wherever the chunks are cut and whatever the piece', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(line, { minLength: 1, maxLength: 12 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 8 }),
        fc.constantFrom(Infinity, TEXT_PIECE_SIZE, 1000, 1),
        fc.boolean(),
        async (lines, cutAt, piece, lastBreak) => {
          const bytes = new TextEncoder().encode(lines.join('\n') + (lastBreak ? '\n' : ''));
          const cuts = cutAt.map((f) => Math.floor(f * bytes.length));
          expect(await linesOf(bytes, cuts, piece)).toEqual(lines);
        },
      ),
      { numRuns: 80 },
    );
  });

  it('skips empty lines', async () => {
    const bytes = new TextEncoder().encode('\n\na\n\n\nb\n\n');
    expect(await linesOf(bytes, [1, 4], 2)).toEqual(['a', 'b']);
  });

  it('decodes a large chunk in pieces of about the size asked, cut at line breaks', async () => {
    const seen: number[] = [];
    const original = TextDecoder.prototype.decode;
    const decode = jest.spyOn(TextDecoder.prototype, 'decode').mockImplementation(function (
      this: typeof TextDecoder.prototype,
      input,
      options,
    ) {
      seen.push(input == null ? 0 : input.byteLength);
      return original.call(this, input, options);
    });
    try {
      const lines = Array.from({ length: 100 }, (_, i) => `${i}`.padEnd(999, '.'));
      const bytes = new TextEncoder().encode(lines.join('\n') + '\n');
      expect(await linesOf(bytes, [], 10_000)).toEqual(lines);
      // One chunk of 100 kB: ten pieces of ten lines (each cut before its last line break).
      expect(seen.slice(0, -1)).toEqual(Array(10).fill(9999));
      expect(await linesOf(bytes, [])).toEqual(lines);
      expect(seen.slice(11, -1)).toEqual([99_999]);
    } finally {
      decode.mockRestore();
    }
  });

  it('calls onChunk after each chunk that completes a line', async () => {
    const bytes = new TextEncoder().encode('aa\nbb\ncc');
    const events: string[] = [];
    await readLines(
      chunked(bytes, [1, 4]),
      (l) => events.push(l),
      () => events.push('|'),
      2,
    );
    expect(events).toEqual(['aa', '|', 'bb', '|', 'cc']);
  });

  it('cancels the body when a line handler throws', async () => {
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(new TextEncoder().encode('bad\n'));
      },
      cancel() {
        cancelled = true;
      },
    });
    await expect(
      readLines(body, () => {
        throw new Error('malformed');
      }),
    ).rejects.toThrow('malformed');
    expect(cancelled).toBe(true);
  });
});
