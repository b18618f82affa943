import type { Schema } from '@sync/protocol';

/**
 * SQL for contract rule L3 over `relations r`: the relation exists (present) and its item and
 * group are visible records of the models the relation declares. Needs the joins below with
 * the aliases i and g. The declared (relation, item model, group model) triples are inlined:
 * schema names are plain identifiers (the schema parser enforces it) and quoted regardless.
 */
export const VISIBLE_RELATION_JOINS = `
  JOIN records i ON i.library_id = r.library_id AND i.record_id = r.item_id AND NOT i.deleted
  JOIN records g ON g.library_id = r.library_id AND g.record_id = r.group_id AND NOT g.deleted`;

export function declaredRelationsCondition(schema: Schema): string {
  const triples = schema.relations.map(
    (def) => `(${literal(def.name)}, ${literal(def.item)}, ${literal(def.group)})`,
  );
  return triples.length === 0
    ? 'false'
    : `r.present AND (r.relation, i.model, g.model) IN (${triples.join(', ')})`;
}

/** A SQL string literal. */
export function literal(name: string): string {
  return `'${name.replace(/'/g, "''")}'`;
}
