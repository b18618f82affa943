import { TEXT_PIECE_SIZE } from '@sync/protocol';

/*
 * A large JSON array body parsed a few elements at a time. `JSON.parse(body.toString())` needs
 * the whole body as one string, which for a batch of 1000 ops (~280 KB) lands in V8's
 * large-object space (text-pieces.ts): that allocation costs more than parsing it. Cut at the
 * array's own commas into pieces of about TEXT_PIECE_SIZE bytes, each piece's text stays a
 * regular young-generation string.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;

const isJsonSpace = (byte: number) =>
  byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;

/**
 * The elements of `utf8`, a top-level JSON array, as `JSON.parse` gives them, parsed in pieces of
 * about `pieceBytes`; undefined when the bytes are not a well-formed array (the caller then
 * parses them whole, which also words the error). A cut is only kept where the text before it
 * parses as complete elements, so it always falls between two elements, outside any string:
 * the pieces' elements, in order, are the array's.
 */
export function parseJsonArrayInPieces(
  utf8: Buffer,
  pieceBytes = TEXT_PIECE_SIZE,
): unknown[] | undefined {
  let start = 0;
  let end = utf8.length;
  while (start < end && isJsonSpace(utf8[start])) start++;
  while (end > start && isJsonSpace(utf8[end - 1])) end--;
  if (end - start < 2 || utf8[start] !== OPEN_ARRAY || utf8[end - 1] !== CLOSE_ARRAY) {
    return undefined;
  }
  const elements: unknown[] = [];
  let depth = 0;
  let pieceStart = start + 1;
  for (let at = start; at < end; at++) {
    const byte = utf8[at];
    if (byte === QUOTE) {
      // Skipped in JS: a native indexOf per string costs more than the bytes.
      at++;
      while (at < end && utf8[at] !== QUOTE) at += utf8[at] === BACKSLASH ? 2 : 1;
      if (at >= end) return undefined;
    } else if (byte === OPEN_ARRAY || byte === OPEN_OBJECT) depth++;
    else if (byte === CLOSE_ARRAY || byte === CLOSE_OBJECT) {
      depth--;
      if (depth === 0) {
        if (at !== end - 1) return undefined;
        // `[]`: no elements, and no piece to take.
        if (elements.length === 0 && isBlank(utf8, pieceStart, at)) return elements;
        if (!takePiece(utf8, pieceStart, at, elements)) return undefined;
      }
    } else if (byte === COMMA && depth === 1 && at - pieceStart >= pieceBytes) {
      if (!takePiece(utf8, pieceStart, at, elements)) return undefined;
      pieceStart = at + 1;
    }
  }
  return depth === 0 ? elements : undefined;
}

function isBlank(utf8: Buffer, from: number, to: number): boolean {
  for (let at = from; at < to; at++) if (!isJsonSpace(utf8[at])) return false;
  return true;
}

/** Appends the elements of utf8[from, to); false unless they are one or more whole elements. */
function takePiece(utf8: Buffer, from: number, to: number, elements: unknown[]): boolean {
  let piece: unknown;
  try {
    piece = JSON.parse(`[${utf8.toString('utf8', from, to)}]`);
  } catch {
    return false;
  }
  const items = piece as unknown[];
  // `[]` would let an empty piece (`[,1]`, `[1,]`) pass for a separator.
  if (items.length === 0) return false;
  for (const item of items) elements.push(item);
  return true;
}
