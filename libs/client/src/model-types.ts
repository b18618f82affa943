import type { JsonValue } from './protocol';

/**
 * Field types of a schema's models, by model name, for the typed op builders of SyncNode.
 * Values are what the wire carries: `datetime` is an ISO-8601 string, `ref` a UUID string.
 */
export type ModelTypes = Record<string, Record<string, JsonValue>>;

/** Field types of a schema's relations, by relation name. */
export type RelationTypes = Record<string, Record<string, JsonValue>>;

/** For a schema without hand-written types: any model, any field, any JSON value. */
export type AnyModels = ModelTypes;
export type AnyRelations = RelationTypes;

type IsoDatetime = string;
type Uuid = string;

/** The bundled default schema (contract section 4); every field is nullable. */
export type DefaultModels = {
  Tag: {
    name: string | null;
    color: string | null;
    is_hidden: boolean | null;
    date_created: IsoDatetime | null;
    date_modified: IsoDatetime | null;
  };
  Label: {
    name: string | null;
    date_created: IsoDatetime | null;
    date_modified: IsoDatetime | null;
  };
  Album: {
    name: string | null;
    is_hidden: boolean | null;
    date_created: IsoDatetime | null;
    date_modified: IsoDatetime | null;
  };
  Object: {
    kind: number | null;
    favorite: boolean | null;
    important: boolean | null;
    hidden: boolean | null;
    note: string | null;
    date_created: IsoDatetime | null;
    date_accessed: IsoDatetime | null;
  };
  Location: {
    name: string | null;
    path: string | null;
    total_capacity: number | null;
    available_capacity: number | null;
    is_archived: boolean | null;
    date_created: IsoDatetime | null;
  };
  FilePath: {
    name: string | null;
    extension: string | null;
    materialized_path: string | null;
    is_dir: boolean | null;
    size_in_bytes: number | null;
    cas_id: string | null;
    location: Uuid | null;
    object: Uuid | null;
    date_created: IsoDatetime | null;
    date_modified: IsoDatetime | null;
  };
};

export type DefaultRelations = {
  TagOnObject: { date_created: IsoDatetime | null };
  LabelOnObject: { date_created: IsoDatetime | null };
  ObjectInAlbum: { date_created: IsoDatetime | null };
};

/** Name of a model of M (string keys only). */
export type ModelName<M extends ModelTypes> = keyof M & string;
export type RelationName<R extends RelationTypes> = keyof R & string;
