import { parseHybrid } from '../hlc/ntp64';
import { JsonObject, JsonValue, isJsonValue, isPlainObject, setOwn } from '../json';
import { Schema } from '../schema/schema';
import { FieldDef } from '../schema/schema.types';
import { checkFieldValue, normalizeFieldValue } from '../schema/value-checks';
import { isUuid } from '../uuid';
import { Operation, OperationType } from './operation.types';

/*
 * Hand-written validation of the wire format: the one validator of ops (ingest, projector,
 * client). A decorator-based validator per op costs far more than the ingest's budget for
 * 10,000-op requests.
 */

export interface ValidationIssue {
  /** Dotted path inside the op ('' for the op itself), e.g. `data.name`, `timestamp.hybrid`. */
  path: string;
  message: string;
}

export interface BatchValidationIssue extends ValidationIssue {
  /** Index of the op in the batch. */
  index: number;
}

export type OperationValidationResult =
  { ok: true; op: Operation } | { ok: false; errors: ValidationIssue[] };

export interface BatchValidationResult {
  /** Valid ops in input order (when `errors` is empty, ops[i] is inputs[i] normalised). */
  ops: Operation[];
  errors: BatchValidationIssue[];
}

export interface ValidateOptions {
  /**
   * true (default): also check models, relations, fields and value types against the schema.
   * false: shape only; schema problems are then left to the merge engine, which turns them into
   * stored rejections (UNKNOWN_MODEL, UNKNOWN_FIELD, INVALID_VALUE) instead of shape errors.
   */
  checkSchema?: boolean;
}

const TYPES: readonly string[] = ['CREATE', 'UPDATE', 'DELETE'];
const RELATION_KEYS = ['relationItem', 'relationGroup', 'relation'] as const;
const COMMON_KEYS = new Set(['type', 'node', 'timestamp']);
const RECORD_KEYS = new Set(['recordId', 'model']);
const RELATION_KEY_SET = new Set<string>(RELATION_KEYS);
const PAYLOAD_KEYS: Record<OperationType, ReadonlySet<string>> = {
  CREATE: new Set(['data']),
  UPDATE: new Set(['field', 'value']),
  DELETE: new Set(),
};
const ALL_PAYLOAD_KEYS = new Set(['data', 'field', 'value']);

class IssueList {
  list: ValidationIssue[] | null = null;
  add(path: string, message: string): void {
    (this.list ??= []).push({ path, message });
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}

function checkUuid(input: Record<string, unknown>, key: string, issues: IssueList): string {
  const value = input[key];
  if (value === undefined) issues.add(key, 'is required');
  else if (!isUuid(value)) issues.add(key, 'must be a UUID string');
  else return value.toLowerCase();
  return '';
}

function checkName(
  input: Record<string, unknown>,
  key: string,
  required: boolean,
  issues: IssueList,
) {
  const value = input[key];
  if (value === undefined) {
    if (required) issues.add(key, 'is required');
    return undefined;
  }
  if (typeof value !== 'string' || value.length === 0) {
    issues.add(key, `must be a non-empty string, got ${describe(value)}`);
    return undefined;
  }
  return value;
}

function checkTimestamp(input: Record<string, unknown>, issues: IssueList): string {
  const ts = input['timestamp'];
  if (ts === undefined) {
    issues.add('timestamp', 'is required');
    return '';
  }
  if (!isPlainObject(ts)) {
    issues.add('timestamp', 'must be an object {"hybrid": "<decimal string>"}');
    return '';
  }
  for (const key in ts) {
    if (key !== 'hybrid') issues.add(`timestamp.${key}`, 'is not allowed');
  }
  const hybrid = ts['hybrid'];
  if (hybrid === undefined) {
    issues.add('timestamp.hybrid', 'is required');
    return '';
  }
  if (typeof hybrid !== 'string') {
    issues.add(
      'timestamp.hybrid',
      typeof hybrid === 'number' || typeof hybrid === 'bigint'
        ? 'must be a decimal string, not a JSON number (numbers lose precision above 2^53)'
        : 'must be a decimal string',
    );
    return '';
  }
  const parsed = parseHybrid(hybrid);
  if (!parsed.ok) issues.add('timestamp.hybrid', parsed.message);
  return hybrid;
}

/** Checks one value against candidate field defs; returns the stored form. */
function checkValue(
  defs: readonly FieldDef[] | null,
  value: unknown,
  path: string,
  issues: IssueList,
): JsonValue {
  if (defs === null) {
    // Shape-only: any JSON value; the merge engine checks the type later.
    if (!isJsonValue(value)) issues.add(path, 'must be a JSON value');
    return value as JsonValue;
  }
  const [first] = defs;
  if (defs.length === 1 && first !== undefined) {
    const error = checkFieldValue(first, value);
    if (error !== null) issues.add(path, error);
    return error === null ? normalizeFieldValue(first, value as JsonValue) : (value as JsonValue);
  }
  // Model-less UPDATE: the value must suit the field in at least one model; the merge engine
  // checks it against the record's actual model once that is known.
  let firstError: string | null = null;
  let allRefs = true;
  let valid = false;
  for (const def of defs) {
    if (def.type !== 'ref') allRefs = false;
    const error = checkFieldValue(def, value);
    if (error === null) valid = true;
    else firstError ??= error;
  }
  if (!valid) {
    const types = [...new Set(defs.map((d) => d.type))].join(' or ');
    issues.add(
      path,
      defs.length > 1 ? `must be a valid ${types} value` : (firstError ?? 'invalid'),
    );
  }
  return valid && allRefs && typeof value === 'string' ? value.toLowerCase() : (value as JsonValue);
}

function checkData(
  input: Record<string, unknown>,
  ownerName: string | undefined,
  schema: Schema | null,
  ownerKnown: boolean,
  issues: IssueList,
): JsonObject {
  const data = input['data'];
  if (!isPlainObject(data)) {
    issues.add('data', `must be an object, got ${describe(data)}`);
    return {};
  }
  const checked: JsonObject = {};
  for (const key of Object.keys(data)) {
    const path = `data.${key}`;
    const value = data[key];
    if (schema !== null && ownerName !== undefined && ownerKnown) {
      const def = schema.field(ownerName, key);
      if (def === undefined) {
        issues.add(path, `is not a field of ${ownerName}`);
        continue;
      }
      setOwn(checked, key, checkValue([def], value, path, issues));
    } else {
      setOwn(checked, key, checkValue(null, value, path, issues));
    }
  }
  return checked;
}

/**
 * Validates one op from the wire and returns it normalised (UUIDs and ref values lowercased,
 * key order fixed), or every problem found, each with the path it concerns.
 */
export function validateOperation(
  input: unknown,
  schema: Schema | null,
  options: ValidateOptions = {},
): OperationValidationResult {
  const checked = options.checkSchema === false ? null : schema;
  const issues = new IssueList();
  const op = validateInto(input, checked, issues);
  return issues.list === null && op !== null
    ? { ok: true, op }
    : { ok: false, errors: issues.list ?? [{ path: '', message: 'invalid operation' }] };
}

/** Validates every op of a batch; reports every problem of every op. */
export function validateBatch(
  inputs: readonly unknown[],
  schema: Schema | null,
  options: ValidateOptions = {},
): BatchValidationResult {
  const checked = options.checkSchema === false ? null : schema;
  const ops: Operation[] = [];
  const errors: BatchValidationIssue[] = [];
  const issues = new IssueList();
  for (let index = 0; index < inputs.length; index++) {
    issues.list = null;
    const op = validateInto(inputs[index], checked, issues);
    const found = issues.list as ValidationIssue[] | null;
    if (found === null && op !== null) ops.push(op);
    else for (const e of found ?? []) errors.push({ index, path: e.path, message: e.message });
  }
  return { ops, errors };
}

function validateInto(input: unknown, schema: Schema | null, issues: IssueList): Operation | null {
  if (!isPlainObject(input)) {
    issues.add('', `must be an object, got ${describe(input)}`);
    return null;
  }

  const rawType = input['type'];
  let type: OperationType | null = null;
  if (rawType === undefined) issues.add('type', 'is required');
  else if (typeof rawType !== 'string' || !TYPES.includes(rawType)) {
    issues.add('type', 'must be one of CREATE, UPDATE, DELETE');
  } else type = rawType as OperationType;

  const isRecord = input['recordId'] !== undefined;
  let isRelation = false;
  for (const key of RELATION_KEYS) if (input[key] !== undefined) isRelation = true;

  for (const key in input) {
    if (COMMON_KEYS.has(key)) continue;
    if (RECORD_KEYS.has(key)) {
      if (key === 'model' && !isRecord && isRelation) {
        issues.add(key, 'is not allowed on a relation op (use "relation")');
      }
      continue;
    }
    if (RELATION_KEY_SET.has(key)) {
      if (isRecord) {
        issues.add(
          key,
          'is not allowed together with recordId (an op is a record op or a relation op)',
        );
      }
      continue;
    }
    if (ALL_PAYLOAD_KEYS.has(key)) {
      if (type !== null && !PAYLOAD_KEYS[type].has(key))
        issues.add(key, `is not allowed on ${type}`);
      continue;
    }
    issues.add(key, 'is not allowed (unknown property)');
  }
  if (!isRecord && !isRelation) {
    issues.add(
      '',
      'must carry recordId (record op) or relationItem, relationGroup and relation (relation op)',
    );
  }

  const node = checkUuid(input, 'node', issues);
  const hybrid = checkTimestamp(input, issues);
  const timestamp = { hybrid };

  if (isRecord) {
    const recordId = checkUuid(input, 'recordId', issues);
    const model = checkName(input, 'model', type === 'CREATE', issues);
    let modelKnown = model !== undefined;
    if (schema !== null && model !== undefined && schema.model(model) === undefined) {
      modelKnown = false;
      issues.add(
        'model',
        schema.relation(model) !== undefined
          ? `"${model}" is a relation, not a model (relation ops carry relationItem, relationGroup and relation)`
          : `unknown model "${model}"`,
      );
    }
    const modelPart = model !== undefined ? { model } : {};
    switch (type) {
      case 'CREATE': {
        const data = checkData(input, model, schema, modelKnown, issues);
        return { type, recordId, model: model ?? '', data, node, timestamp };
      }
      case 'UPDATE': {
        const field = checkName(input, 'field', true, issues);
        const value = checkUpdateValue(input, field, model, modelKnown, schema, issues);
        return { type, recordId, ...modelPart, field: field ?? '', value, node, timestamp };
      }
      case 'DELETE':
        return { type, recordId, ...modelPart, node, timestamp };
      default:
        return null;
    }
  }

  if (isRelation) {
    const relationItem = checkUuid(input, 'relationItem', issues);
    const relationGroup = checkUuid(input, 'relationGroup', issues);
    const relation = checkName(input, 'relation', true, issues);
    let relationKnown = relation !== undefined;
    if (schema !== null && relation !== undefined && schema.relation(relation) === undefined) {
      relationKnown = false;
      issues.add(
        'relation',
        schema.model(relation) !== undefined
          ? `"${relation}" is a model, not a relation`
          : `unknown relation "${relation}"`,
      );
    }
    const keys = { relationItem, relationGroup, relation: relation ?? '' };
    switch (type) {
      case 'CREATE': {
        if (input['data'] === undefined) return { type, ...keys, node, timestamp };
        const data = checkData(input, relation, schema, relationKnown, issues);
        return { type, ...keys, data, node, timestamp };
      }
      case 'UPDATE': {
        const field = checkName(input, 'field', true, issues);
        const value = checkUpdateValue(input, field, relation, relationKnown, schema, issues);
        return { type, ...keys, field: field ?? '', value, node, timestamp };
      }
      case 'DELETE':
        return { type, ...keys, node, timestamp };
      default:
        return null;
    }
  }
  return null;
}

function checkUpdateValue(
  input: Record<string, unknown>,
  field: string | undefined,
  ownerName: string | undefined,
  ownerKnown: boolean,
  schema: Schema | null,
  issues: IssueList,
): JsonValue {
  const value = input['value'];
  if (value === undefined) {
    issues.add('value', 'is required (null clears the field)');
    return null;
  }
  if (schema === null || field === undefined) return checkValue(null, value, 'value', issues);
  if (ownerName !== undefined) {
    if (!ownerKnown) return checkValue(null, value, 'value', issues);
    const def = schema.field(ownerName, field);
    if (def === undefined) {
      issues.add('field', `"${field}" is not a field of ${ownerName}`);
      return checkValue(null, value, 'value', issues);
    }
    return checkValue([def], value, 'value', issues);
  }
  const defs = schema.fieldDefsNamed(field);
  if (defs.length === 0) {
    issues.add('field', `"${field}" is not a field of any model`);
    return checkValue(null, value, 'value', issues);
  }
  return checkValue(defs, value, 'value', issues);
}
