export type FieldType = 'string' | 'int' | 'float' | 'bool' | 'datetime' | 'json' | 'ref';

export const FIELD_TYPES: readonly FieldType[] = [
  'string',
  'int',
  'float',
  'bool',
  'datetime',
  'json',
  'ref',
];

export type ModelKind = 'shared' | 'owned';

export interface FieldDef {
  name: string;
  type: FieldType;
  /** Defaults to true in the schema file. */
  nullable: boolean;
  /** Target model, for `ref` fields only. */
  model?: string;
}

export interface ModelDef {
  name: string;
  kind: ModelKind;
  /** Null-prototype map by field name; look up with Schema.field() or Object.hasOwn. */
  fields: Readonly<Record<string, FieldDef>>;
  /** Field names in declaration order. */
  fieldNames: readonly string[];
}

export interface RelationDef {
  name: string;
  /** Model of relationItem records. */
  item: string;
  /** Model of relationGroup records. */
  group: string;
  fields: Readonly<Record<string, FieldDef>>;
  fieldNames: readonly string[];
}

/** The schema file as written on disk (see README, "Schema file"). */
export type FieldSpecJson =
  FieldType | { type: FieldType; nullable?: boolean; model?: string; description?: string };

export interface SchemaFileJson {
  description?: string;
  models: Record<
    string,
    { kind: ModelKind; fields: Record<string, FieldSpecJson>; description?: string }
  >;
  relations?: Record<
    string,
    { item: string; group: string; fields?: Record<string, FieldSpecJson>; description?: string }
  >;
}
