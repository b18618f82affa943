import type { JsonObject, JsonValue } from '@sync/protocol';

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
 * Characters of a page encoded at a time. A page of 1,000 ops is ~260 KB: as one string it would
 * be allocated in V8's large-object space (fresh pages each time), then encoded again for the
 * socket; pieces this size stay regular young-generation strings, even as UTF-16.
 */
const PAGE_PIECE_CHARS = 32 * 1024;

/** `{"items":[…],"nextCursor":…}` from items that are JSON texts already. */
export function pageJson(page: Page<string>): JsonBody {
  const pieces: Buffer[] = [];
  let piece = '{"items":[';
  for (let i = 0; i < page.items.length; i++) {
    piece += i === 0 ? page.items[i] : `,${page.items[i]}`;
    if (piece.length >= PAGE_PIECE_CHARS) {
      pieces.push(Buffer.from(piece, 'utf8'));
      piece = '';
    }
  }
  pieces.push(Buffer.from(`${piece}],"nextCursor":${JSON.stringify(page.nextCursor)}}`, 'utf8'));
  return (pieces.length === 1 ? pieces[0] : Buffer.concat(pieces)) as JsonBody;
}
