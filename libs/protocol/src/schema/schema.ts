import { JsonValue, ownValue } from '../json';
import { FieldSpecJson, FieldDef, ModelDef, RelationDef, SchemaFileJson } from './schema.types';
import { checkFieldValue, normalizeFieldValue } from './value-checks';

/**
 * A validated schema with fast lookups. Build it with parseSchema/loadSchema/defaultSchema;
 * the constructor trusts its input.
 */
export class Schema {
  private readonly modelTable: ReadonlyMap<string, ModelDef>;
  private readonly relationTable: ReadonlyMap<string, RelationDef>;
  /** Every declaration of each field name across models, for model-less UPDATEs. */
  private readonly fieldsByName: ReadonlyMap<string, readonly FieldDef[]>;

  constructor(
    models: readonly ModelDef[],
    relations: readonly RelationDef[],
    /** Where the schema came from (file path or "default"), for messages and logs. */
    readonly source = 'schema',
  ) {
    this.modelTable = new Map(models.map((m) => [m.name, m]));
    this.relationTable = new Map(relations.map((r) => [r.name, r]));
    const byName = new Map<string, FieldDef[]>();
    for (const model of models) {
      for (const def of Object.values(model.fields)) {
        const list = byName.get(def.name);
        if (list) list.push(def);
        else byName.set(def.name, [def]);
      }
    }
    this.fieldsByName = byName;
  }

  get models(): ModelDef[] {
    return [...this.modelTable.values()];
  }

  get relations(): RelationDef[] {
    return [...this.relationTable.values()];
  }

  model(name: string): ModelDef | undefined {
    return this.modelTable.get(name);
  }

  relation(name: string): RelationDef | undefined {
    return this.relationTable.get(name);
  }

  /** Field of a model or relation (names never collide), or undefined. */
  field(modelOrRelation: string, fieldName: string): FieldDef | undefined {
    const owner = this.modelTable.get(modelOrRelation) ?? this.relationTable.get(modelOrRelation);
    return owner === undefined ? undefined : ownValue(owner.fields, fieldName);
  }

  isFieldOfAnyModel(fieldName: string): boolean {
    return this.fieldsByName.has(fieldName);
  }

  /** Every model field declared with this name (empty when none). */
  fieldDefsNamed(fieldName: string): readonly FieldDef[] {
    return this.fieldsByName.get(fieldName) ?? [];
  }

  /** Error message for `value` as a value of `field`, or null when it is valid. */
  checkValue(field: FieldDef, value: unknown): string | null {
    return checkFieldValue(field, value);
  }

  /** Stored form of a valid value (ref UUIDs lowercased). */
  normalizeValue(field: FieldDef, value: JsonValue): JsonValue {
    return normalizeFieldValue(field, value);
  }

  /** The schema in file format (round-trips through parseSchema). */
  toJSON(): SchemaFileJson {
    const fieldsJson = (defs: Readonly<Record<string, FieldDef>>) => {
      const out: Record<string, FieldSpecJson> = {};
      for (const def of Object.values(defs)) {
        out[def.name] =
          def.nullable && def.type !== 'ref'
            ? def.type
            : {
                type: def.type,
                ...(def.nullable ? {} : { nullable: false }),
                ...(def.model !== undefined ? { model: def.model } : {}),
              };
      }
      return out;
    };
    const models: SchemaFileJson['models'] = {};
    for (const m of this.modelTable.values()) {
      models[m.name] = { kind: m.kind, fields: fieldsJson(m.fields) };
    }
    const relations: NonNullable<SchemaFileJson['relations']> = {};
    for (const r of this.relationTable.values()) {
      relations[r.name] = {
        item: r.item,
        group: r.group,
        fields: fieldsJson(r.fields),
      };
    }
    return { models, relations };
  }
}
