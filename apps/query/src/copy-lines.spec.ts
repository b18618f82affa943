import { Readable } from 'node:stream';
import fc from 'fast-check';
import { copyLines } from './copy-lines';

/** A binary COPY stream of (line, fallback) rows, as Postgres writes it. */
function binaryCopy(rows: [string | null, string | null][], extension = 0): Buffer {
  const parts: Buffer[] = [Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1')];
  const header = Buffer.alloc(8 + extension);
  header.writeInt32BE(0, 0);
  header.writeInt32BE(extension, 4);
  parts.push(header);
  for (const row of rows) {
    const count = Buffer.alloc(2);
    count.writeInt16BE(row.length);
    parts.push(count);
    for (const value of row) {
      const length = Buffer.alloc(4);
      const bytes = value === null ? Buffer.alloc(0) : Buffer.from(value, 'utf8');
      length.writeInt32BE(value === null ? -1 : bytes.length);
      parts.push(length, bytes);
    }
  }
  parts.push(Buffer.from([0xff, 0xff]));
  return Buffer.concat(parts);
}

/** `buf` as a stream, cut at `cuts`. */
function chunked(buf: Buffer, cuts: number[]): AsyncIterable<Buffer> {
  const parts: Buffer[] = [];
  let at = 0;
  for (const cut of [...new Set(cuts)].sort((a, b) => a - b)) {
    if (cut <= at || cut >= buf.length) continue;
    parts.push(buf.subarray(at, cut));
    at = cut;
  }
  parts.push(buf.subarray(at));
  return Readable.from(parts);
}

async function collect(source: AsyncIterable<Buffer>) {
  let text = '';
  let count = 0;
  for await (const part of copyLines(source, (json) => `fallback:${json}`)) {
    text += part.text.toString('utf8');
    count += part.count;
  }
  return { text, count };
}

const row = fc.oneof(
  fc
    .string({ unit: 'grapheme', maxLength: 20 })
    .map((s): [string | null, string | null] => [s, null]),
  fc.string({ maxLength: 10 }).map((s): [string | null, string | null] => [null, s]),
);

describe('copyLines (binary COPY to NDJSON bytes)', () => {
  it('gives every line, or its fallback, in order, however the stream is cut', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(row, { maxLength: 30 }),
        fc.array(fc.nat(2000), { maxLength: 40 }),
        fc.nat(5),
        async (rows, cuts, extension) => {
          const got = await collect(chunked(binaryCopy(rows, extension), cuts));
          const want = rows.map(([line, json]) => `${line ?? `fallback:${json}`}\n`).join('');
          expect(got).toEqual({ text: want, count: rows.length });
        },
      ),
    );
  });

  it('throws when the stream is cut before its trailer', async () => {
    const whole = binaryCopy([
      ['{"a":1}', null],
      ['{"b":2}', null],
    ]);
    for (let end = 0; end < whole.length; end++) {
      await expect(collect(chunked(whole.subarray(0, end), [7, 20]))).rejects.toThrow();
    }
    await expect(collect(chunked(whole, [5]))).resolves.toEqual({
      text: '{"a":1}\n{"b":2}\n',
      count: 2,
    });
  });

  it('refuses what is not binary COPY', async () => {
    await expect(collect(chunked(Buffer.from('{"not":"copy"}\n'.repeat(3)), []))).rejects.toThrow(
      /not a binary COPY/,
    );
  });
});
