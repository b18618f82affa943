import { JsonObject, ownValue } from '../json';
import { Schema } from '../schema/schema';
import { FieldWrite, RecordState, RelationState } from './merge.types';

/** R1: created (the state exists) and not deleted. */
export function isRecordVisible(record: RecordState | undefined): record is RecordState {
  return record !== undefined && !record.deleted;
}

/**
 * L3, evaluated at read time: the relation exists and both ends are visible records of the
 * models the relation declares. Pass the states of relation.item and relation.group.
 */
export function isRelationVisible(
  schema: Schema,
  relation: RelationState,
  item: RecordState | undefined,
  group: RecordState | undefined,
): boolean {
  const def = schema.relation(relation.relation);
  return (
    def !== undefined &&
    relation.presence.exists &&
    isRecordVisible(item) &&
    isRecordVisible(group) &&
    item.recordId === relation.item &&
    group.recordId === relation.group &&
    item.model === def.item &&
    group.model === def.group
  );
}

function fill(fieldNames: readonly string[], fields: Record<string, FieldWrite>): JsonObject {
  const data: JsonObject = {};
  for (const name of fieldNames) {
    data[name] = ownValue(fields, name)?.value ?? null;
  }
  return data;
}

/** A record as the query API shows it. */
export interface RecordView {
  id: string;
  model: string;
  /** Every declared field of the model, null where unset. */
  data: JsonObject;
}

/** A relation as the query API shows it. */
export interface RelationView {
  relation: string;
  item: string;
  group: string;
  /** Every declared field of the relation, null where unset. */
  data: JsonObject;
}

export function recordView(schema: Schema, record: RecordState): RecordView {
  const names = schema.model(record.model)?.fieldNames ?? Object.keys(record.fields);
  return { id: record.recordId, model: record.model, data: fill(names, record.fields) };
}

export function relationView(schema: Schema, relation: RelationState): RelationView {
  const names = schema.relation(relation.relation)?.fieldNames ?? Object.keys(relation.fields);
  return {
    relation: relation.relation,
    item: relation.item,
    group: relation.group,
    data: fill(names, relation.fields),
  };
}
