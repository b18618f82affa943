import { type JsonObject, type JsonValue, TextPieces } from '@sync/protocol';

/** `data` with every declared field, in declaration order, null where unset. */
export function fillFields(
  declared: readonly string[] | undefined,
  stored: Record<string, unknown> | null,
): JsonObject {
  const values = stored ?? {};
  const names = declared ?? Object.keys(values);
  const data: JsonObject = {};
  for (const name of names) {
    data[name] = Object.hasOwn(values, name) ? ((values[name] as JsonValue) ?? null) : null;
  }
  return data;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/**
 * Turns `limit + 1` fetched rows into a page: the extra row only says that more exist, so the
 * last page has a null cursor instead of leading to an empty one.
 */
export function toPage<R, T>(
  rows: R[],
  limit: number,
  map: (row: R) => T,
  cursorOf: (row: R) => string,
): Page<T> {
  const more = rows.length > limit;
  const kept = more ? rows.slice(0, limit) : rows;
  return {
    items: kept.map(map),
    nextCursor: more && kept.length > 0 ? cursorOf(kept[kept.length - 1]) : null,
  };
}

/**
 * An answer already serialized as JSON (rows Postgres printed, joined here), as UTF-8 bytes sent
 * as they are with JSON_CONTENT_TYPE: no row parsed only to be serialized again.
 */
export type JsonBody = Buffer & { readonly __jsonBody: never };

export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

/**
 * `{"items":[…],"nextCursor":…}` from items that are JSON texts already. A page of 1,000 ops is
 * ~260 KB: encoded in pieces, never as one string (text-pieces.ts).
 */
export function pageJson(page: Page<string>): JsonBody {
  const encoded: Buffer[] = [];
  const pieces = new TextPieces((piece) => encoded.push(Buffer.from(piece, 'utf8')));
  pieces.add('{"items":[');
  for (let i = 0; i < page.items.length; i++)
    pieces.add(i === 0 ? page.items[i] : `,${page.items[i]}`);
  pieces.add(`],"nextCursor":${JSON.stringify(page.nextCursor)}}`);
  pieces.finish();
  return (encoded.length === 1 ? encoded[0] : Buffer.concat(encoded)) as JsonBody;
}
