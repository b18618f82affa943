import type { Schema } from '@sync/protocol';
import { literal } from './visible-relations.sql';

/*
 * SQL expressions that print a row as the JSON text of its API item, so a read parses one
 * string (JSON.parse) instead of building every item and its `data` field by field in JS. The
 * text only has to parse to the item the JS path (views.fillFields) builds, not to match it
 * byte for byte: jsonb prints values with spaces, and JSON.parse of jsonb's text is exactly
 * what pg gave the JS path for the `data` column.
 */

/**
 * `data` with every declared field of the row's kind (model or relation name), in declaration
 * order, null where unset (fillFields); a kind not in the schema keeps the stored keys.
 */
function dataText(
  kindColumn: string,
  dataColumn: string,
  kinds: readonly { name: string; fieldNames: readonly string[] }[],
): string {
  const stored = `COALESCE(${dataColumn}::text, '{}')`;
  if (kinds.length === 0) return stored;
  const branches = kinds.map((kind) => {
    const fields = kind.fieldNames.map(
      (name, i) =>
        `${literal(`${i === 0 ? '{' : ','}${JSON.stringify(name)}:`)} || COALESCE((${dataColumn} -> ${literal(name)})::text, 'null')`,
    );
    const text = fields.length === 0 ? `'{}'` : `${fields.join(' || ')} || '}'`;
    return `WHEN ${literal(kind.name)} THEN ${text}`;
  });
  return `(CASE ${kindColumn} ${branches.join(' ')} ELSE ${stored} END)`;
}

/** A record over `records r` as `{"id","model","data"}` (RecordDto). */
export function recordItemSql(schema: Schema): string {
  return `'{"id":"' || r.record_id || '","model":' || to_json(r.model)::text
      || ',"data":' || ${dataText('r.model', 'r.data', schema.models)} || '}'`;
}

/** A relation over `relations r` as `{"relation","item","group","data"}` (RelationDto). */
export function relationItemSql(schema: Schema): string {
  return `'{"relation":' || to_json(r.relation)::text
      || ',"item":"' || r.item_id || '","group":"' || r.group_id
      || '","data":' || ${dataText('r.relation', 'r.data', schema.relations)} || '}'`;
}

/**
 * The `item` column of `rows` (a subquery) as one JSON array text in `order` (its columns as
 * `s.…`), NULL when there are none: one value to fetch and parse per page.
 */
export function itemsArraySql(rows: string, order: string): string {
  return `SELECT '[' || string_agg(s.item, ',' ORDER BY ${order}) || ']' AS items FROM (${rows}) s`;
}
