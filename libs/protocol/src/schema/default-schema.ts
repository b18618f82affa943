import { Schema } from './schema';
import { parseSchema } from './schema-parser';
import { SchemaFileJson } from './schema.types';

/**
 * The bundled default schema. Mirrors default-schema.json (a spec keeps them equal); kept as
 * code so that it ships with every build without copying JSON assets.
 */
export const DEFAULT_SCHEMA_JSON: SchemaFileJson = {
  description: 'Bundled default: mirrors the models Spacedrive syncs. Every field is nullable.',
  models: {
    Tag: {
      kind: 'shared',
      fields: {
        name: 'string',
        color: 'string',
        is_hidden: 'bool',
        date_created: 'datetime',
        date_modified: 'datetime',
      },
    },
    Label: {
      kind: 'shared',
      fields: { name: 'string', date_created: 'datetime', date_modified: 'datetime' },
    },
    Album: {
      kind: 'shared',
      fields: {
        name: 'string',
        is_hidden: 'bool',
        date_created: 'datetime',
        date_modified: 'datetime',
      },
    },
    Object: {
      kind: 'shared',
      fields: {
        kind: 'int',
        favorite: 'bool',
        important: 'bool',
        hidden: 'bool',
        note: 'string',
        date_created: 'datetime',
        date_accessed: 'datetime',
      },
    },
    Location: {
      kind: 'owned',
      fields: {
        name: 'string',
        path: 'string',
        total_capacity: 'int',
        available_capacity: 'int',
        is_archived: 'bool',
        date_created: 'datetime',
      },
    },
    FilePath: {
      kind: 'owned',
      fields: {
        name: 'string',
        extension: 'string',
        materialized_path: 'string',
        is_dir: 'bool',
        size_in_bytes: 'int',
        cas_id: 'string',
        location: { type: 'ref', model: 'Location' },
        object: { type: 'ref', model: 'Object' },
        date_created: 'datetime',
        date_modified: 'datetime',
      },
    },
  },
  relations: {
    TagOnObject: { item: 'Object', group: 'Tag', fields: { date_created: 'datetime' } },
    LabelOnObject: { item: 'Object', group: 'Label', fields: { date_created: 'datetime' } },
    ObjectInAlbum: { item: 'Object', group: 'Album', fields: { date_created: 'datetime' } },
  },
};

let cached: Schema | undefined;

/** The bundled default schema (parsed once). */
export function defaultSchema(): Schema {
  cached ??= parseSchema(DEFAULT_SCHEMA_JSON, 'default');
  return cached;
}
