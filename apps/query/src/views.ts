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
 * An answer already serialized as JSON (rows Postgres printed, joined here), sent as it is with
 * JSON_CONTENT_TYPE: no row parsed only to be serialized again.
 */
export type JsonText = string & { readonly __jsonText: never };

export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

/** `{"items":[…],"nextCursor":…}` from items that are JSON texts already. */
export function pageJson(page: Page<string>): JsonText {
  const items = page.items.join(',');
  return `{"items":[${items}],"nextCursor":${JSON.stringify(page.nextCursor)}}` as JsonText;
}
