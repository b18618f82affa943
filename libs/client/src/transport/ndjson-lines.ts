/*
 * The lines of a streamed NDJSON body (a snapshot, a feed page), cut and decoded as bytes arrive.
 */

/**
 * Calls `onLine` with each non-empty line of a streamed body as it arrives (the last one may lack
 * its line break), and `onChunk` after each chunk's lines: nothing is held beyond the chunk it
 * came in. With the stream's reader, which every browser has (async iteration is not everywhere).
 *
 * Chunks are cut at line breaks as bytes (a UTF-8 sequence never contains the byte 0x0A) and
 * decoded whole, not in TextDecoder's streaming mode, which gives two-byte strings even for ASCII
 * (Node 20), twice the memory of every line a snapshot keeps as text. With `piece`, a chunk is
 * decoded in pieces of about that many bytes, cut at line breaks.
 */
export async function readLines(
  body: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
  onChunk?: () => void,
  piece = Infinity,
): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const emit = (bytes: Uint8Array) => {
    for (const line of decoder.decode(bytes).split('\n')) if (line.length > 0) onLine(line);
  };
  // Bytes of a line that continues in a later chunk (a long line spans many).
  let rest: Uint8Array[] = [];
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const first = value.indexOf(NEWLINE);
      if (first < 0) {
        rest.push(value);
        continue;
      }
      let start = 0;
      if (rest.length > 0) {
        emit(joinBytes([...rest, value.subarray(0, first)]));
        rest = [];
        start = first + 1;
      }
      while (start < value.length) {
        // The last line break within the piece, or the first after it for a longer line.
        let end = value.lastIndexOf(NEWLINE, start + piece);
        if (end < start) end = value.indexOf(NEWLINE, start + piece);
        if (end < 0) {
          rest = [value.subarray(start)];
          break;
        }
        emit(value.subarray(start, end));
        start = end + 1;
      }
      onChunk?.();
    }
  } catch (error) {
    // Frees the connection of a body left half read (malformed line, timeout).
    await reader.cancel().catch(() => undefined);
    throw error;
  }
  const last = decoder.decode(joinBytes(rest));
  if (last.trim().length > 0) onLine(last);
}

const NEWLINE = 0x0a;

function joinBytes(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const joined = new Uint8Array(parts.reduce((size, part) => size + part.length, 0));
  let at = 0;
  for (const part of parts) {
    joined.set(part, at);
    at += part.length;
  }
  return joined;
}
