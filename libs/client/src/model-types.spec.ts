import { type FieldType, type JsonValue, defaultSchema } from '@sync/protocol';
import type { DefaultModels, DefaultRelations } from './model-types';

/*
 * DefaultModels / DefaultRelations are written by hand. The tables below must name every field of
 * the TypeScript types (the compiler checks that, and that each type name fits the TS type);
 * the tests check that they equal the bundled schema.
 */

type TypeNamesFor<T> = [T] extends [string | null]
  ? 'string' | 'datetime' | 'ref'
  : [T] extends [number | null]
    ? 'int' | 'float'
    : [T] extends [boolean | null]
      ? 'bool'
      : [T] extends [JsonValue]
        ? FieldType
        : never;

type FieldTable<T extends Record<string, Record<string, JsonValue>>> = {
  [K in keyof T]: { [F in keyof T[K]]-?: TypeNamesFor<T[K][F]> };
};

const MODELS: FieldTable<DefaultModels> = {
  Tag: {
    name: 'string',
    color: 'string',
    is_hidden: 'bool',
    date_created: 'datetime',
    date_modified: 'datetime',
  },
  Label: { name: 'string', date_created: 'datetime', date_modified: 'datetime' },
  Album: { name: 'string', is_hidden: 'bool', date_created: 'datetime', date_modified: 'datetime' },
  Object: {
    kind: 'int',
    favorite: 'bool',
    important: 'bool',
    hidden: 'bool',
    note: 'string',
    date_created: 'datetime',
    date_accessed: 'datetime',
  },
  Location: {
    name: 'string',
    path: 'string',
    total_capacity: 'int',
    available_capacity: 'int',
    is_archived: 'bool',
    date_created: 'datetime',
  },
  FilePath: {
    name: 'string',
    extension: 'string',
    materialized_path: 'string',
    is_dir: 'bool',
    size_in_bytes: 'int',
    cas_id: 'string',
    location: 'ref',
    object: 'ref',
    date_created: 'datetime',
    date_modified: 'datetime',
  },
};

const RELATIONS: FieldTable<DefaultRelations> = {
  TagOnObject: { date_created: 'datetime' },
  LabelOnObject: { date_created: 'datetime' },
  ObjectInAlbum: { date_created: 'datetime' },
};

describe('typed default schema', () => {
  const schema = defaultSchema();
  const typesOf = (fields: Readonly<Record<string, { type: FieldType }>>) =>
    Object.fromEntries(Object.entries(fields).map(([name, def]) => [name, def.type]));

  it('DefaultModels has exactly the models and field types of the bundled schema', () => {
    expect(Object.fromEntries(schema.models.map((m) => [m.name, typesOf(m.fields)]))).toEqual(
      MODELS,
    );
  });

  it('DefaultRelations has exactly its relations and field types', () => {
    expect(Object.fromEntries(schema.relations.map((r) => [r.name, typesOf(r.fields)]))).toEqual(
      RELATIONS,
    );
  });
});
