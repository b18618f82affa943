import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSchema } from './schema-file';
import { SchemaError, parseSchema } from './schema-parser';

function issuesOf(json: unknown): string[] {
  try {
    parseSchema(json, 'test.json');
  } catch (err) {
    if (err instanceof SchemaError) return err.issues.map((i) => `${i.path}: ${i.message}`);
    throw err;
  }
  return [];
}

describe('parseSchema', () => {
  const minimal = {
    models: {
      Location: { kind: 'owned', fields: { name: 'string' } },
      FilePath: {
        kind: 'owned',
        fields: {
          size: { type: 'int', nullable: false },
          location: { type: 'ref', model: 'Location' },
        },
      },
      Tag: { kind: 'shared', fields: {} },
    },
    relations: { TagOnFile: { item: 'FilePath', group: 'Tag', fields: { at: 'datetime' } } },
  };

  it('builds models, relations and field definitions with defaults', () => {
    const schema = parseSchema(minimal, 'test.json');
    expect(schema.source).toBe('test.json');
    expect(schema.model('FilePath')).toMatchObject({
      name: 'FilePath',
      kind: 'owned',
      fieldNames: ['size', 'location'],
    });
    expect(schema.field('FilePath', 'size')).toEqual({
      name: 'size',
      type: 'int',
      nullable: false,
    });
    expect(schema.field('FilePath', 'location')).toEqual({
      name: 'location',
      type: 'ref',
      nullable: true,
      model: 'Location',
    });
    expect(schema.field('Location', 'name')).toEqual({
      name: 'name',
      type: 'string',
      nullable: true,
    });
    expect(schema.relation('TagOnFile')).toMatchObject({
      item: 'FilePath',
      group: 'Tag',
      fieldNames: ['at'],
    });
    expect(schema.field('TagOnFile', 'at')?.type).toBe('datetime');
    expect(schema.field('FilePath', 'constructor')).toBeUndefined();
    expect(schema.model('TagOnFile')).toBeUndefined();
    expect(schema.isFieldOfAnyModel('size')).toBe(true);
    expect(schema.isFieldOfAnyModel('at')).toBe(false); // relation fields are not model fields
  });

  it('round-trips through toJSON', () => {
    const schema = parseSchema(minimal, 'x');
    expect(parseSchema(schema.toJSON(), 'y').toJSON()).toEqual(schema.toJSON());
  });

  it('relations default to none and relation fields to empty', () => {
    const schema = parseSchema({ models: { A: { kind: 'shared', fields: {} } } });
    expect(schema.relations).toEqual([]);
    const withRel = parseSchema({
      models: { A: { kind: 'shared', fields: {} } },
      relations: { AA: { item: 'A', group: 'A' } },
    });
    expect(withRel.relation('AA')?.fieldNames).toEqual([]);
  });

  it.each<[string, unknown, string]>([
    ['a non-object root', [], ': must be an object, got an array'],
    ['missing models', {}, 'models: is required'],
    ['an unknown top-level key', { models: {}, extra: 1 }, 'extra: unknown key'],
    [
      'a bad kind',
      { models: { A: { kind: 'public', fields: {} } } },
      'models.A.kind: must be "shared" or "owned"',
    ],
    ['missing fields', { models: { A: { kind: 'shared' } } }, 'models.A.fields: must be an object'],
    [
      'an unknown type',
      { models: { A: { kind: 'shared', fields: { x: 'text' } } } },
      'models.A.fields.x: unknown type "text"',
    ],
    [
      'a ref without model',
      { models: { A: { kind: 'shared', fields: { x: { type: 'ref' } } } } },
      'models.A.fields.x: ref needs "model"',
    ],
    [
      'a ref to an undeclared model',
      { models: { A: { kind: 'shared', fields: { x: { type: 'ref', model: 'B' } } } } },
      'models.A.fields.x.model: ref to undeclared model "B"',
    ],
    [
      'model on a non-ref field',
      { models: { A: { kind: 'shared', fields: { x: { type: 'int', model: 'A' } } } } },
      'models.A.fields.x.model: only ref fields take "model"',
    ],
    [
      'a non-boolean nullable',
      { models: { A: { kind: 'shared', fields: { x: { type: 'int', nullable: 'no' } } } } },
      'models.A.fields.x.nullable: must be a boolean',
    ],
    [
      'an unknown field key',
      { models: { A: { kind: 'shared', fields: { x: { type: 'int', default: 1 } } } } },
      'models.A.fields.x.default: unknown key',
    ],
    [
      'a bad model name',
      { models: { 'A-B': { kind: 'shared', fields: {} } } },
      'models.A-B: model name must match',
    ],
    [
      'a __proto__ field',
      JSON.parse('{"models":{"A":{"kind":"shared","fields":{"__proto__":"int"}}}}'),
      'models.A.fields.__proto__: field name must match',
    ],
    [
      'a relation item not declared',
      {
        models: { A: { kind: 'shared', fields: {} } },
        relations: { R: { item: 'X', group: 'A' } },
      },
      'relations.R.item: must name a declared model, got "X"',
    ],
    [
      'a relation without group',
      { models: { A: { kind: 'shared', fields: {} } }, relations: { R: { item: 'A' } } },
      'relations.R.group: is required',
    ],
    [
      'a relation named like a model',
      {
        models: { A: { kind: 'shared', fields: {} } },
        relations: { A: { item: 'A', group: 'A' } },
      },
      'relations.A: name collides with model "A"',
    ],
  ])('rejects %s with the key path', (_name, json, expected) => {
    const issues = issuesOf(json);
    expect(issues.some((i) => i.includes(expected))).toBe(true);
  });

  it('reports every problem at once, naming the source', () => {
    expect(() =>
      parseSchema(
        { models: { A: { kind: 'x', fields: { y: 'nope', z: { type: 'ref' } } } } },
        'bad.json',
      ),
    ).toThrow(
      /invalid schema bad\.json:\n.*models\.A\.kind.*\n.*models\.A\.fields\.y.*\n.*models\.A\.fields\.z: ref needs "model"/,
    );
  });
});

describe('loadSchema', () => {
  const dir = mkdtempSync(join(tmpdir(), 'schema-'));

  it('loads a file', () => {
    const path = join(dir, 'ok.json');
    writeFileSync(
      path,
      JSON.stringify({ models: { A: { kind: 'shared', fields: { n: 'int' } } } }),
    );
    expect(loadSchema(path).field('A', 'n')?.type).toBe('int');
  });

  it('names the file when it is not JSON or missing', () => {
    const path = join(dir, 'bad.json');
    writeFileSync(path, '{ models: ');
    expect(() => loadSchema(path)).toThrow(/bad\.json[\s\S]*not valid JSON/);
    expect(() => loadSchema(join(dir, 'missing.json'))).toThrow(
      /missing\.json[\s\S]*cannot read file/,
    );
  });
});
