import { JsonValue, isJsonValue } from '../json';
import { isUuid } from '../uuid';
import { FieldDef } from './schema.types';

// Calendar dates in the ISO-8601 extended format, optionally with a time and an offset:
// 2024-02-29, 2024-02-29T13:05Z, 2024-02-29T13:05:07.123456+02:00, 2024-02-29 13:05:07Z.
const DATETIME_PATTERN =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:[Zz]|[+-](\d{2})(?::?(\d{2}))?)?)?$/;

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

export function isIsoDatetime(value: string): boolean {
  const m = DATETIME_PATTERN.exec(value);
  if (m === null) return false;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return false;
  if (m[4] !== undefined && (Number(m[4]) > 23 || Number(m[5]) > 59)) return false;
  if (m[6] !== undefined && Number(m[6]) > 60) return false; // 60: leap second (RFC 3339)
  if (m[7] !== undefined && Number(m[7]) > 23) return false;
  if (m[8] !== undefined && Number(m[8]) > 59) return false;
  return true;
}

// Postgres text and jsonb cannot hold U+0000 or unpaired UTF-16 surrogates; an op carrying
// them could be accepted but never stored, so they are invalid values.
const UNSTORABLE_TEXT =
  // eslint-disable-next-line no-control-regex -- matching NUL is the point
  /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const UNSTORABLE_MESSAGE = 'must not contain U+0000 or unpaired surrogates (not storable)';

export function isStorableText(value: string): boolean {
  return !UNSTORABLE_TEXT.test(value);
}

/** True when every string and object key inside a JSON value is storable (iterative walk). */
function isStorableJson(value: JsonValue): boolean {
  const stack: JsonValue[] = [value];
  while (stack.length > 0) {
    const current = stack.pop();
    if (typeof current === 'string') {
      if (!isStorableText(current)) return false;
    } else if (Array.isArray(current)) {
      stack.push(...current);
    } else if (current !== null && typeof current === 'object') {
      for (const [key, item] of Object.entries(current)) {
        if (!isStorableText(key)) return false;
        stack.push(item);
      }
    }
  }
  return true;
}

/** Error message for `value` as a value of `field`, or null when it is valid. */
export function checkFieldValue(field: FieldDef, value: unknown): string | null {
  if (value === null) return field.nullable ? null : 'must not be null';
  switch (field.type) {
    case 'string':
      if (typeof value !== 'string') return 'must be a string';
      return isStorableText(value) ? null : UNSTORABLE_MESSAGE;
    case 'int':
      return Number.isSafeInteger(value) ? null : 'must be an integer (safe integer range)';
    case 'float':
      return typeof value === 'number' && Number.isFinite(value) ? null : 'must be a finite number';
    case 'bool':
      return typeof value === 'boolean' ? null : 'must be a boolean';
    case 'datetime':
      return typeof value === 'string' && isIsoDatetime(value)
        ? null
        : 'must be an ISO-8601 datetime string';
    case 'json':
      if (!isJsonValue(value)) return 'must be a JSON value';
      return isStorableJson(value) ? null : UNSTORABLE_MESSAGE;
    case 'ref':
      return isUuid(value) ? null : `must be a UUID (id of a ${field.model ?? 'record'})`;
  }
}

/** Canonical stored form of a valid value: refs are lowercased, everything else is kept as sent. */
export function normalizeFieldValue(field: FieldDef, value: JsonValue): JsonValue {
  return field.type === 'ref' && typeof value === 'string' ? value.toLowerCase() : value;
}
