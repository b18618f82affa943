import { isPlainObject } from '../json';
import { Schema } from './schema';
import { FIELD_TYPES, FieldDef, FieldType, ModelDef, ModelKind, RelationDef } from './schema.types';

// Names become JSON keys and may become SQL identifiers: plain identifiers, Postgres length limit.
const NAME_PATTERN = /^(?!__proto__$)[A-Za-z_][A-Za-z0-9_]{0,62}$/;

export interface SchemaIssue {
  path: string;
  message: string;
}

export class SchemaError extends Error {
  constructor(
    readonly source: string,
    readonly issues: SchemaIssue[],
  ) {
    super(
      `invalid schema ${source}:\n` +
        issues.map((i) => `  ${i.path === '' ? '(root)' : i.path}: ${i.message}`).join('\n'),
    );
    this.name = 'SchemaError';
  }
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' ? JSON.stringify(value) : `a ${typeof value}`;
}

/**
 * Validates a parsed schema file and builds a Schema. Throws SchemaError listing every problem,
 * each with the key path it concerns (e.g. `models.FilePath.fields.location: ref needs "model"`).
 */
export function parseSchema(json: unknown, sourceName = 'schema'): Schema {
  const issues: SchemaIssue[] = [];
  const fail = (path: string, message: string): void => {
    issues.push({ path, message });
  };
  const checkKeys = (obj: Record<string, unknown>, path: string, allowed: string[]): void => {
    for (const key of Object.keys(obj)) {
      if (!allowed.includes(key)) {
        fail(path === '' ? key : `${path}.${key}`, `unknown key (allowed: ${allowed.join(', ')})`);
      }
    }
  };

  if (!isPlainObject(json)) {
    throw new SchemaError(sourceName, [
      { path: '', message: `must be an object, got ${describe(json)}` },
    ]);
  }
  checkKeys(json, '', ['models', 'relations', 'description', '$schema']);

  const modelsJson = json['models'];
  const relationsJson = json['relations'] ?? {};
  if (modelsJson === undefined) fail('models', 'is required (an object of model definitions)');
  else if (!isPlainObject(modelsJson))
    fail('models', `must be an object, got ${describe(modelsJson)}`);
  if (!isPlainObject(relationsJson)) {
    fail('relations', `must be an object, got ${describe(relationsJson)}`);
  }
  const modelEntries = isPlainObject(modelsJson) ? Object.entries(modelsJson) : [];
  const relationEntries = isPlainObject(relationsJson) ? Object.entries(relationsJson) : [];
  const modelNames = new Set(modelEntries.map(([name]) => name));

  const parseFields = (fieldsJson: unknown, path: string): [Record<string, FieldDef>, string[]] => {
    const fields = Object.create(null) as Record<string, FieldDef>;
    const names: string[] = [];
    if (!isPlainObject(fieldsJson)) {
      fail(path, `must be an object, got ${describe(fieldsJson)}`);
      return [fields, names];
    }
    for (const [name, spec] of Object.entries(fieldsJson)) {
      const fieldPath = `${path}.${name}`;
      if (!NAME_PATTERN.test(name)) {
        fail(fieldPath, 'field name must match [A-Za-z_][A-Za-z0-9_]* (at most 63 characters)');
        continue;
      }
      let type: unknown;
      let nullable: unknown = true;
      let model: unknown;
      if (typeof spec === 'string') {
        type = spec;
      } else if (isPlainObject(spec)) {
        checkKeys(spec, fieldPath, ['type', 'nullable', 'model', 'description']);
        type = spec['type'];
        nullable = spec['nullable'] ?? true;
        model = spec['model'];
      } else {
        fail(fieldPath, `must be a type name or an object with "type", got ${describe(spec)}`);
        continue;
      }
      if (typeof type !== 'string' || !(FIELD_TYPES as readonly string[]).includes(type)) {
        fail(
          fieldPath,
          `unknown type ${describe(type)} (expected one of ${FIELD_TYPES.join(', ')})`,
        );
        continue;
      }
      if (typeof nullable !== 'boolean') {
        fail(`${fieldPath}.nullable`, `must be a boolean, got ${describe(nullable)}`);
        continue;
      }
      const def: FieldDef = { name, type: type as FieldType, nullable };
      if (type === 'ref') {
        if (model === undefined) {
          fail(fieldPath, 'ref needs "model"');
          continue;
        }
        if (typeof model !== 'string' || !modelNames.has(model)) {
          fail(`${fieldPath}.model`, `ref to undeclared model ${describe(model)}`);
          continue;
        }
        def.model = model;
      } else if (model !== undefined) {
        fail(`${fieldPath}.model`, 'only ref fields take "model"');
        continue;
      }
      fields[name] = Object.freeze(def);
      names.push(name);
    }
    return [fields, names];
  };

  const models: ModelDef[] = [];
  for (const [name, spec] of modelEntries) {
    const path = `models.${name}`;
    if (!NAME_PATTERN.test(name)) {
      fail(path, 'model name must match [A-Za-z_][A-Za-z0-9_]* (at most 63 characters)');
      continue;
    }
    if (!isPlainObject(spec)) {
      fail(path, `must be an object with "kind" and "fields", got ${describe(spec)}`);
      continue;
    }
    checkKeys(spec, path, ['kind', 'fields', 'description']);
    const kind = spec['kind'];
    if (kind !== 'shared' && kind !== 'owned') {
      fail(`${path}.kind`, `must be "shared" or "owned", got ${describe(kind)}`);
    }
    const [fields, fieldNames] = parseFields(spec['fields'], `${path}.fields`);
    models.push(Object.freeze({ name, kind: kind as ModelKind, fields, fieldNames }));
  }

  const relations: RelationDef[] = [];
  for (const [name, spec] of relationEntries) {
    const path = `relations.${name}`;
    if (!NAME_PATTERN.test(name)) {
      fail(path, 'relation name must match [A-Za-z_][A-Za-z0-9_]* (at most 63 characters)');
      continue;
    }
    if (modelNames.has(name)) {
      fail(path, `name collides with model "${name}"`);
      continue;
    }
    if (!isPlainObject(spec)) {
      fail(path, `must be an object with "item" and "group", got ${describe(spec)}`);
      continue;
    }
    checkKeys(spec, path, ['item', 'group', 'fields', 'description']);
    for (const side of ['item', 'group'] as const) {
      const target = spec[side];
      if (target === undefined) fail(`${path}.${side}`, 'is required (a declared model name)');
      else if (typeof target !== 'string' || !modelNames.has(target)) {
        fail(`${path}.${side}`, `must name a declared model, got ${describe(target)}`);
      }
    }
    const [fields, fieldNames] = parseFields(spec['fields'] ?? {}, `${path}.fields`);
    relations.push(
      Object.freeze({
        name,
        item: spec['item'] as string,
        group: spec['group'] as string,
        fields,
        fieldNames,
      }),
    );
  }

  if (issues.length > 0) throw new SchemaError(sourceName, issues);
  return new Schema(models, relations, sourceName);
}
