/*
 * Lines out of `COPY (SELECT line, fallback ...) TO STDOUT (FORMAT binary)`, as bytes: the
 * service forwards what Postgres printed without decoding it to JS strings. Binary format
 * because text and CSV formats escape or quote the backslashes and quotes JSON is full of.
 * Format (PostgreSQL docs, COPY "Binary Format"): an 11-byte signature, int32 flags, int32
 * header-extension length and the extension; then per row an int16 field count and, per field,
 * an int32 byte length (-1: NULL) and the bytes; an int16 -1 ends the data.
 */

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const NEWLINE = Buffer.from('\n');

export interface CopyLines {
  /** Complete lines, each ending with a newline. */
  text: Buffer;
  /** How many lines `text` holds. */
  count: number;
}

/**
 * Turns a binary COPY of two text columns (line, fallback) into NDJSON: a row's line as is, or
 * when it is NULL, `fallback(second column)`. Yields once per input chunk that completed rows.
 * Throws when the stream ends without the trailer (cut off) or is not binary COPY.
 */
export async function* copyLines(
  source: AsyncIterable<Buffer>,
  fallback: (text: string) => string,
): AsyncGenerator<CopyLines> {
  let carry: Buffer = Buffer.alloc(0);
  let started = false;
  let ended = false;
  for await (const chunk of source) {
    const buf = carry.length === 0 ? chunk : Buffer.concat([carry, chunk]);
    let pos = 0;
    if (!started) {
      if (buf.length < 19) {
        carry = buf;
        continue;
      }
      if (!buf.subarray(0, 11).equals(SIGNATURE)) throw new Error('not a binary COPY stream');
      const extension = buf.readInt32BE(15);
      if (buf.length < 19 + extension) {
        carry = buf;
        continue;
      }
      pos = 19 + extension;
      started = true;
    }
    const out: Buffer[] = [];
    let count = 0;
    while (!ended && buf.length - pos >= 2) {
      const fields = buf.readInt16BE(pos);
      if (fields === -1) {
        ended = true;
        pos += 2;
        break;
      }
      if (fields !== 2) throw new Error(`COPY row of ${fields} fields, expected 2`);
      const line = field(buf, pos + 2);
      if (line === undefined) break;
      const second = field(buf, line.next);
      if (second === undefined) break;
      if (line.length >= 0) {
        out.push(buf.subarray(line.start, line.start + line.length), NEWLINE);
      } else if (second.length >= 0) {
        const text = buf.toString('utf8', second.start, second.start + second.length);
        out.push(Buffer.from(`${fallback(text)}\n`));
      } else {
        throw new Error('COPY row with neither a line nor a fallback');
      }
      count++;
      pos = second.next;
    }
    // Copied: a view would keep the whole chunk alive.
    carry = Buffer.from(buf.subarray(pos));
    if (count > 0) yield { text: Buffer.concat(out), count };
  }
  if (!ended) throw new Error('COPY stream ended before its trailer');
  if (carry.length > 0) throw new Error('data after the COPY trailer');
}

/** The field at `at`: its bytes' start and length (-1: NULL), or undefined when incomplete. */
function field(
  buf: Buffer,
  at: number,
): { start: number; length: number; next: number } | undefined {
  if (buf.length - at < 4) return undefined;
  const length = buf.readInt32BE(at);
  const start = at + 4;
  if (length > 0 && buf.length - start < length) return undefined;
  return { start, length, next: start + Math.max(length, 0) };
}
