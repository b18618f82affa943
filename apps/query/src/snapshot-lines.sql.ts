import type { Schema, SnapshotClocks } from '@sync/protocol';
import { literal } from './visible-relations.sql';

/*
 * SQL expressions that build a snapshot line's text in Postgres, as JSON holding the same
 * values as the line the JS path builds (snapshot.repository.ts), so the service only forwards
 * text: no JSON.parse of data and clocks, no object per row, no JSON.stringify.
 *
 * `data` is the stored jsonb under an object of the declared fields set to null
 * (`nulls || data`): every declared field, null where unset, as fillFields gives. It prints as
 * jsonb prints (a space after ':' and ',', keys by length then bytes, numbers in plain digits),
 * which JSON.parse reads to the same values the JS path's text gives; one jsonb operation per
 * row instead of a lookup and a print per field (about half the Postgres CPU per line). The
 * line is NULL, and the row takes the JS path, where `nulls || data` would not be what
 * fillFields keeps: the model or relation is not in the schema, or data holds a field the
 * schema does not declare (fillFields drops it).
 *
 * Clocks are printed by taking the spaces out of jsonb's text: they only ever hold schema field
 * names (/^[A-Za-z_]\w*$/) mapped to [decimal hybrid, node UUID] (toStoredClock), so '": ' and
 * ', "' occur nowhere but between tokens. test/snapshot-lines.e2e-spec.ts checks all of it
 * against the JS path on random rows.
 */

/** data with every declared field (null where unset), or NULL if it holds an undeclared one. */
function dataText(column: string, fieldNames: readonly string[]): string {
  const nulls = literal(JSON.stringify(Object.fromEntries(fieldNames.map((n) => [n, null]))));
  const declared = `ARRAY[${fieldNames.map(literal).join(', ')}]::text[]`;
  return `CASE WHEN ${column} - ${declared} = '{}'::jsonb THEN (${nulls}::jsonb || ${column})::text END`;
}

/** data by the row's kind (model or relation name); NULL where the JS path must print it. */
function dataByKind(
  kindColumn: string,
  dataColumn: string,
  kinds: readonly { name: string; fieldNames: readonly string[] }[],
): string {
  if (kinds.length === 0) return 'NULL';
  const branches = kinds.map(
    (k) => `WHEN ${literal(k.name)} THEN ${dataText(dataColumn, k.fieldNames)}`,
  );
  return `(CASE ${kindColumn} ${branches.join(' ')} END)`;
}

/** A stored clock [hybrid, node] as `["…","…"]`. */
const clockText = (clock: string) => `replace(${clock}::text, '", "', '","')`;

/** `{"field":["hybrid","node"],...}`. */
const clocksText = (column: string) =>
  `replace(replace(${column}::text, '": ', '":'), ', "', ',"')`;

const boolText = (column: string) => `CASE WHEN ${column} THEN 'true' ELSE 'false' END`;

/**
 * A record line over `records r`: `{"type":"record","id","model","data"}`, and with `full`
 * `"deleted","owner","clocks"` after them; with `clocks` 'compact', clocks is the stored compact
 * text as a JSON string where the row has one (records.compact_clocks), the usual object where
 * not.
 */
export function recordLineSql(schema: Schema, full: boolean, clocks: SnapshotClocks): string {
  const head = `'{"type":"record","id":"' || r.record_id || '","model":' || to_json(r.model)::text
      || ',"data":' || ${dataByKind('r.model', 'r.data', schema.models)}`;
  if (!full) return `${head} || '}'`;
  const clocksLine =
    clocks === 'compact'
      ? `COALESCE(to_json(r.compact_clocks)::text, ${clocksText('r.clocks')})`
      : clocksText('r.clocks');
  return `${head} || ',"deleted":' || ${boolText('r.deleted')}
      || ',"owner":' || COALESCE('"' || r.owner || '"', 'null')
      || ',"clocks":' || ${clocksLine} || '}'`;
}

/**
 * A relation line over `relations r`: `{"type":"relation","relation","item","group","data"}`,
 * and with `full` `"visible","present","presenceClock","clocks"` after them.
 */
export function relationLineSql(schema: Schema, full: boolean, visible: string): string {
  const head = `'{"type":"relation","relation":' || to_json(r.relation)::text
      || ',"item":"' || r.item_id || '","group":"' || r.group_id
      || '","data":' || ${dataByKind('r.relation', 'r.data', schema.relations)}`;
  if (!full) return `${head} || '}'`;
  return `${head} || ',"visible":' || ${boolText(visible)}
      || ',"present":' || ${boolText('r.present')}
      || ',"presenceClock":' || ${clockText('r.presence_clock')}
      || ',"clocks":' || ${clocksText('r.clocks')} || '}'`;
}
