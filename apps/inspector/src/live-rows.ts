import type { RecordChange, RecordRow, RelationChange, RelationRow } from './api-types';

/** What the visible page covers: a keyset page is a range of the list's sort key. */
export interface PageWindow {
  /** This page starts the list (nothing sorts before its first row). */
  first: boolean;
  /** This page ends the list (nextCursor was null). */
  last: boolean;
}

/**
 * Folds one live change into the rows on screen, in the list's order: replaces the row with that
 * key, removes it when the change hides it, and inserts a new row only when its key falls inside
 * the page's range (a row for another page stays there, as a reload would show).
 */
function fold<T>(
  rows: readonly T[],
  key: string,
  keyOf: (row: T) => string,
  row: T | null,
  window: PageWindow,
): T[] {
  const index = rows.findIndex((candidate) => keyOf(candidate) === key);
  if (index !== -1) {
    return row === null
      ? rows.filter((_, i) => i !== index)
      : rows.map((candidate, i) => (i === index ? row : candidate));
  }
  if (row === null) return [...rows];
  const inRange =
    (window.first || (rows.length > 0 && key > keyOf(rows[0]))) &&
    (window.last || (rows.length > 0 && key < keyOf(rows[rows.length - 1])));
  if (!inRange) return [...rows];
  const at = rows.findIndex((candidate) => keyOf(candidate) > key);
  return at === -1 ? [...rows, row] : [...rows.slice(0, at), row, ...rows.slice(at)];
}

/** Records are listed by id (lowercase UUIDs sort as text the way Postgres sorts the uuid). */
export function foldRecordChange(
  rows: readonly RecordRow[],
  model: string,
  change: RecordChange,
  window: PageWindow,
): RecordRow[] {
  if (change.model !== model) return [...rows];
  const row =
    change.deleted || change.data === null
      ? null
      : { id: change.id, model: change.model, data: change.data };
  return fold(rows, change.id, (r) => r.id, row, window);
}

/** Relations of one relation model are listed by (item, group). */
export function foldRelationChange(
  rows: readonly RelationRow[],
  relation: string,
  change: RelationChange,
  window: PageWindow,
): RelationRow[] {
  if (change.relation !== relation) return [...rows];
  const keyOf = (r: { item: string; group: string }) => `${r.item} ${r.group}`;
  const row =
    !change.visible || change.data === null
      ? null
      : { relation, item: change.item, group: change.group, data: change.data };
  return fold(rows, keyOf(change), keyOf, row, window);
}
