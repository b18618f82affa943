import { defaultSchema } from '../schema/default-schema';
import { parseSchema } from '../schema/schema-parser';
import { NODE_A, hyb, rid } from '../testing/operation-builders';
import { validateBatch, validateOperation } from './operation-validator';

const schema = defaultSchema();
const UPPER_NODE = NODE_A.toUpperCase();
const ts = { hybrid: hyb(1) };

const recordCreate = {
  type: 'CREATE',
  recordId: rid(1).toUpperCase(),
  model: 'FilePath',
  data: {
    name: 'a.txt',
    size_in_bytes: 12,
    object: rid(2).toUpperCase(),
    date_created: '2024-01-01T00:00:00Z',
  },
  node: UPPER_NODE,
  timestamp: ts,
};
const recordUpdate = {
  type: 'UPDATE',
  recordId: rid(1),
  field: 'name',
  value: 'b',
  node: NODE_A,
  timestamp: ts,
};
const recordDelete = { type: 'DELETE', recordId: rid(1), node: NODE_A, timestamp: ts };
const relation = { relationItem: rid(3), relationGroup: rid(4), relation: 'TagOnObject' };
const relationCreate = { type: 'CREATE', ...relation, node: NODE_A, timestamp: ts };
const relationUpdate = {
  type: 'UPDATE',
  ...relation,
  field: 'date_created',
  value: null,
  node: NODE_A,
  timestamp: ts,
};
const relationDelete = { type: 'DELETE', ...relation, node: NODE_A, timestamp: ts };

function errorsOf(input: unknown): string[] {
  const result = validateOperation(input, schema);
  return result.ok ? [] : result.errors.map((e) => `${e.path}: ${e.message}`);
}

describe('validateOperation: valid ops', () => {
  it.each([
    ['record CREATE', recordCreate],
    ['record UPDATE', recordUpdate],
    ['record UPDATE with model', { ...recordUpdate, model: 'Tag' }],
    ['record UPDATE to null', { ...recordUpdate, value: null }],
    ['record DELETE', recordDelete],
    ['record DELETE with model', { ...recordDelete, model: 'Object' }],
    ['relation CREATE without data', relationCreate],
    ['relation CREATE with data', { ...relationCreate, data: { date_created: '2024-01-01' } }],
    ['relation UPDATE', relationUpdate],
    ['relation DELETE', relationDelete],
    ['CREATE with empty data', { ...recordCreate, data: {} }],
    ['hybrid 0', { ...recordDelete, timestamp: { hybrid: '0' } }],
    ['hybrid 2^64-1', { ...recordDelete, timestamp: { hybrid: '18446744073709551615' } }],
  ])('accepts %s', (_name, input) => {
    expect(errorsOf(input)).toEqual([]);
  });

  it('lowercases UUIDs and ref values, keeps other values as sent', () => {
    const result = validateOperation(recordCreate, schema);
    expect(result).toEqual({
      ok: true,
      op: {
        type: 'CREATE',
        recordId: rid(1),
        model: 'FilePath',
        data: {
          name: 'a.txt',
          size_in_bytes: 12,
          object: rid(2),
          date_created: '2024-01-01T00:00:00Z',
        },
        node: NODE_A,
        timestamp: ts,
      },
    });
    const rel = validateOperation(
      {
        ...relationDelete,
        relationItem: rid(3).toUpperCase(),
        relationGroup: rid(4).toUpperCase(),
      },
      schema,
    );
    expect(rel.ok && rel.op).toMatchObject({ relationItem: rid(3), relationGroup: rid(4) });
  });

  it('lowercases a model-less ref UPDATE only when every candidate field is a ref', () => {
    const result = validateOperation(
      { ...recordUpdate, field: 'location', value: rid(9).toUpperCase() },
      schema,
    );
    expect(result.ok && result.op).toMatchObject({ value: rid(9) });
  });

  it('keeps the key order of the wire format and omits absent optional keys', () => {
    const result = validateOperation(
      { timestamp: ts, node: NODE_A, recordId: rid(1), type: 'DELETE' },
      schema,
    );
    expect(result.ok && Object.keys(result.op)).toEqual(['type', 'recordId', 'node', 'timestamp']);
    const rc = validateOperation(relationCreate, schema);
    expect(rc.ok && 'data' in rc.op).toBe(false);
  });
});

describe('validateOperation: invalid ops', () => {
  it.each<[string, unknown, string[]]>([
    ['a non-object', 'CREATE', [': must be an object, got string']],
    ['an array', [], [': must be an object, got an array']],
    ['a missing type', { ...recordDelete, type: undefined }, ['type: is required']],
    [
      'an unknown type',
      { ...recordDelete, type: 'UPSERT' },
      ['type: must be one of CREATE, UPDATE, DELETE'],
    ],
    [
      'an unknown property',
      { ...recordDelete, extra: 1 },
      ['extra: is not allowed (unknown property)'],
    ],
    [
      'an unknown timestamp property',
      { ...recordDelete, timestamp: { hybrid: '1', wall: 2 } },
      ['timestamp.wall: is not allowed'],
    ],
    [
      'a hybrid as JSON number',
      { ...recordDelete, timestamp: { hybrid: 123 } },
      [
        'timestamp.hybrid: must be a decimal string, not a JSON number (numbers lose precision above 2^53)',
      ],
    ],
    [
      'a hybrid with leading zero',
      { ...recordDelete, timestamp: { hybrid: '0123' } },
      [
        'timestamp.hybrid: must be a canonical decimal string (digits only, no sign, no leading zeros)',
      ],
    ],
    [
      'a hybrid past 2^64-1',
      { ...recordDelete, timestamp: { hybrid: '18446744073709551616' } },
      ['timestamp.hybrid: must be at most 2^64-1'],
    ],
    ['a missing timestamp', { ...recordDelete, timestamp: undefined }, ['timestamp: is required']],
    ['a missing hybrid', { ...recordDelete, timestamp: {} }, ['timestamp.hybrid: is required']],
    ['a bad recordId', { ...recordDelete, recordId: 'abc' }, ['recordId: must be a UUID string']],
    ['a bad node', { ...recordDelete, node: 42 }, ['node: must be a UUID string']],
    ['a missing node', { ...recordDelete, node: undefined }, ['node: is required']],
    [
      'neither recordId nor relation keys',
      { type: 'DELETE', node: NODE_A, timestamp: ts },
      [
        ': must carry recordId (record op) or relationItem, relationGroup and relation (relation op)',
      ],
    ],
    [
      'a mix of record and relation keys',
      { ...recordDelete, relationItem: rid(3) },
      [
        'relationItem: is not allowed together with recordId (an op is a record op or a relation op)',
      ],
    ],
    [
      'model on a relation op',
      { ...relationDelete, model: 'Tag' },
      ['model: is not allowed on a relation op (use "relation")'],
    ],
    ['a CREATE without model', { ...recordCreate, model: undefined }, ['model: is required']],
    [
      'a CREATE without data',
      { ...recordCreate, data: undefined },
      ['data: must be an object, got undefined'],
    ],
    [
      'an undeclared model',
      { ...recordCreate, model: 'Planet' },
      ['model: unknown model "Planet"'],
    ],
    [
      'a relation name as model',
      { ...recordCreate, model: 'TagOnObject', data: {} },
      [
        'model: "TagOnObject" is a relation, not a model (relation ops carry relationItem, relationGroup and relation)',
      ],
    ],
    [
      'an undeclared data field',
      { ...recordCreate, data: { colour: 'red' } },
      ['data.colour: is not a field of FilePath'],
    ],
    [
      'a wrongly typed data value',
      { ...recordCreate, data: { size_in_bytes: '12' } },
      ['data.size_in_bytes: must be an integer (safe integer range)'],
    ],
    [
      'a bad ref value',
      { ...recordCreate, data: { location: 'here' } },
      ['data.location: must be a UUID (id of a Location)'],
    ],
    [
      'a bad datetime',
      { ...recordCreate, data: { date_created: 'yesterday' } },
      ['data.date_created: must be an ISO-8601 datetime string'],
    ],
    ['data on UPDATE', { ...recordUpdate, data: {} }, ['data: is not allowed on UPDATE']],
    [
      'field/value on DELETE',
      { ...recordDelete, field: 'name', value: 1 },
      ['field: is not allowed on DELETE', 'value: is not allowed on DELETE'],
    ],
    [
      'an UPDATE without value',
      { ...recordUpdate, value: undefined },
      ['value: is required (null clears the field)'],
    ],
    ['an UPDATE without field', { ...recordUpdate, field: undefined }, ['field: is required']],
    [
      'an UPDATE of a field no model has',
      { ...recordUpdate, field: 'colour' },
      ['field: "colour" is not a field of any model'],
    ],
    [
      'an UPDATE with a value no model accepts',
      { ...recordUpdate, field: 'is_dir', value: 'yes' },
      ['value: must be a boolean'],
    ],
    [
      'an UPDATE of a field the given model lacks',
      { ...recordUpdate, model: 'Tag', field: 'size_in_bytes', value: 1 },
      ['field: "size_in_bytes" is not a field of Tag'],
    ],
    [
      'an UPDATE with a value the given model rejects',
      { ...recordUpdate, model: 'Tag', value: 5 },
      ['value: must be a string'],
    ],
    [
      'an unknown relation',
      { ...relationCreate, relation: 'TagOnTag' },
      ['relation: unknown relation "TagOnTag"'],
    ],
    [
      'a model name as relation',
      { ...relationCreate, relation: 'Tag' },
      ['relation: "Tag" is a model, not a relation'],
    ],
    [
      'a relation with a missing key',
      { ...relationDelete, relationGroup: undefined },
      ['relationGroup: is required'],
    ],
    [
      'a relation data field not declared',
      { ...relationCreate, data: { weight: 1 } },
      ['data.weight: is not a field of TagOnObject'],
    ],
    [
      'a relation UPDATE of an undeclared field',
      { ...relationUpdate, field: 'weight' },
      ['field: "weight" is not a field of TagOnObject'],
    ],
  ])('rejects %s', (_name, input, expected) => {
    expect(errorsOf(input)).toEqual(expected);
  });

  it('reports every problem of an op', () => {
    expect(
      errorsOf({
        type: 'UPDATE',
        recordId: 'x',
        field: 'name',
        node: 'y',
        timestamp: { hybrid: 1 },
        junk: true,
      }),
    ).toEqual([
      'junk: is not allowed (unknown property)',
      'node: must be a UUID string',
      'timestamp.hybrid: must be a decimal string, not a JSON number (numbers lose precision above 2^53)',
      'recordId: must be a UUID string',
      'value: is required (null clears the field)',
    ]);
  });

  it('accepts null in nullable fields and rejects it in non-nullable ones', () => {
    expect(errorsOf({ ...recordCreate, data: { name: null } })).toEqual([]);
    const strict = parseSchema({
      models: { Note: { kind: 'shared', fields: { body: { type: 'string', nullable: false } } } },
    });
    const input = { ...recordUpdate, model: 'Note', field: 'body', value: null };
    expect(validateOperation(input, strict)).toEqual({
      ok: false,
      errors: [{ path: 'value', message: 'must not be null' }],
    });
    expect(validateOperation({ ...input, model: undefined }, strict).ok).toBe(false);
  });

  it('checks shape only when checkSchema is false', () => {
    const input = { ...recordCreate, model: 'Planet', data: { mass: 'big' } };
    expect(validateOperation(input, schema, { checkSchema: false }).ok).toBe(true);
    expect(validateOperation({ ...input, extra: 1 }, schema, { checkSchema: false }).ok).toBe(
      false,
    );
    expect(validateOperation(input, null).ok).toBe(true);
  });

  it('keeps a data key named "__proto__" an own key, never the prototype', () => {
    // As JSON text: an object literal would take "__proto__" for the prototype.
    const input = JSON.parse(
      JSON.stringify({ ...recordCreate, model: 'Planet', data: { a: 1 } }).replace(
        '"a":1',
        '"a":1,"__proto__":{"polluted":true}',
      ),
    ) as unknown;
    const result = validateOperation(input, null);
    if (!result.ok) throw new Error('expected a valid op');
    const data = (result.op as { data: Record<string, unknown> }).data;
    expect(Object.keys(data)).toEqual(['a', '__proto__']);
    expect(Object.getPrototypeOf(data)).toBe(Object.prototype);
    expect((data as { polluted?: unknown }).polluted).toBeUndefined();
    expect(validateOperation(input, schema).ok).toBe(false);
  });
});

describe('validateBatch', () => {
  it('returns the valid ops and every error with its index', () => {
    const result = validateBatch(
      [recordDelete, { ...recordDelete, node: 'x' }, relationCreate, 7],
      schema,
    );
    expect(result.ops).toHaveLength(2);
    expect(result.errors).toEqual([
      { index: 1, path: 'node', message: 'must be a UUID string' },
      { index: 3, path: '', message: 'must be an object, got number' },
    ]);
  });

  it('validates a batch of 10,000 ops', () => {
    const inputs = JSON.parse(
      JSON.stringify(
        Array.from({ length: 10_000 }, (_, i) => (i % 2 === 0 ? recordCreate : relationUpdate)),
      ),
    ) as unknown[];
    const result = validateBatch(inputs, schema);
    expect(result.errors).toEqual([]);
    expect(result.ops).toHaveLength(10_000);
  });
});
