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

/** Error message for `value` as a value of `field`, or null when it is valid. */
export function checkFieldValue(field: FieldDef, value: unknown): string | null {
  if (value === null) return field.nullable ? null : 'must not be null';
  switch (field.type) {
    case 'string':
      return typeof value === 'string' ? null : 'must be a string';
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
      return isJsonValue(value) ? null : 'must be a JSON value';
    case 'ref':
      return isUuid(value) ? null : `must be a UUID (id of a ${field.model ?? 'record'})`;
  }
}

/** Canonical stored form of a valid value: refs are lowercased, everything else is kept as sent. */
export function normalizeFieldValue(field: FieldDef, value: JsonValue): JsonValue {
  return field.type === 'ref' && typeof value === 'string' ? value.toLowerCase() : value;
}
