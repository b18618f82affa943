import type { Schema } from '@sync/protocol';
import { literal } from './visible-relations.sql';

/*
 * SQL expressions that build a snapshot line's text in Postgres, byte for byte what
 * JSON.stringify makes of the line the JS path builds (snapshot.repository.ts), so the service
 * only forwards text: no JSON.parse of data and clocks, no object per row, no JSON.stringify.
 *
 * Postgres prints a jsonb object with a space after ':' and ',', so objects are never printed
 * whole. A scalar prints exactly as JSON.stringify prints it (strings with the same escapes:
 * \" \\ \b \f \n \r \t, other controls as lowercase \u00xx; numbers as the digits the
 * projector's JSON.stringify stored), so `data` is assembled field by field in declaration
 * order (fillFields). The line is NULL, and the row takes the JS path, where that would not be
 * exact: when a data value is an object or an array, or a number JSON.stringify writes with an
 * exponent (|x| >= 1e21 or 0 < |x| < 1e-6, which jsonb prints in full), or the model or
 * relation is not in the schema (fillFields then keeps the stored keys).
 *
 * Clocks are printed by taking the spaces out of jsonb's text: they only ever hold schema field
 * names (/^[A-Za-z_]\w*$/) mapped to [decimal hybrid, node UUID] (toStoredClock), so '": ' and
 * ', "' occur nowhere but between tokens; jsonb's key order is also what JSON.parse gave the
 * JS path. test/snapshot-lines.e2e-spec.ts checks all of it against the JS path on random rows.
 */

/** True when some value of `data` would not print exactly (see above). */
const inexactData = (column: string) =>
  `jsonb_path_exists(${column}, 'strict $.* ? (@.type() == "object" || @.type() == "array" ||
     (@.type() == "number" && (@ >= 1e21 || @ <= -1e21 || (@ != 0 && @ < 0.000001 && @ > -0.000001))))')`;

/** `{"f1":v1,...}` with every declared field, in declaration order, null where unset. */
function dataText(column: string, fieldNames: readonly string[]): string {
  if (fieldNames.length === 0) return `'{}'`;
  const parts = fieldNames.map(
    (name, i) =>
      `${literal(`${i === 0 ? '{' : ','}${JSON.stringify(name)}:`)} || COALESCE((${column} -> ${literal(name)})::text, 'null')`,
  );
  return `${parts.join(' || ')} || '}'`;
}

/** data by the row's kind (model or relation name); NULL where not exact. */
function dataByKind(
  kindColumn: string,
  dataColumn: string,
  kinds: readonly { name: string; fieldNames: readonly string[] }[],
): string {
  if (kinds.length === 0) return 'NULL';
  const branches = kinds.map(
    (k) => `WHEN ${literal(k.name)} THEN ${dataText(dataColumn, k.fieldNames)}`,
  );
  return `(CASE WHEN ${inexactData(dataColumn)} THEN NULL ELSE CASE ${kindColumn} ${branches.join(' ')} END END)`;
}

/** A stored clock [hybrid, node] as `["…","…"]`. */
const clockText = (clock: string) => `replace(${clock}::text, '", "', '","')`;

/** `{"field":["hybrid","node"],...}`. */
const clocksText = (column: string) =>
  `replace(replace(${column}::text, '": ', '":'), ', "', ',"')`;

const boolText = (column: string) => `CASE WHEN ${column} THEN 'true' ELSE 'false' END`;

/**
 * A record line over `records r`: `{"type":"record","id","model","data"}`, and with `full`
 * `"deleted","owner","clocks"` after them.
 */
export function recordLineSql(schema: Schema, full: boolean): string {
  const head = `'{"type":"record","id":"' || r.record_id || '","model":' || to_json(r.model)::text
      || ',"data":' || ${dataByKind('r.model', 'r.data', schema.models)}`;
  if (!full) return `${head} || '}'`;
  return `${head} || ',"deleted":' || ${boolText('r.deleted')}
      || ',"owner":' || COALESCE('"' || r.owner || '"', 'null')
      || ',"clocks":' || ${clocksText('r.clocks')} || '}'`;
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
