export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * True when `value` survives a JSON round trip unchanged (no undefined, functions,
 * NaN/Infinity, class instances or cycles). Input from JSON.parse always passes; the
 * check matters for ops built in code or decoded from other formats.
 */
export function isJsonValue(value: unknown, seen: Set<object> = new Set()): value is JsonValue {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'object': {
      if (value === null) return true;
      if (seen.has(value)) return false;
      seen.add(value);
      let ok = true;
      if (Array.isArray(value)) {
        for (const item of value as unknown[]) {
          if (!isJsonValue(item, seen)) {
            ok = false;
            break;
          }
        }
      } else if (isPlainObject(value)) {
        for (const key of Object.keys(value)) {
          if (!isJsonValue(value[key], seen)) {
            ok = false;
            break;
          }
        }
      } else {
        ok = false;
      }
      seen.delete(value);
      return ok;
    }
    default:
      return false;
  }
}

/** obj[key] if it is an own property (safe for keys like "constructor"), else undefined. */
export function ownValue<T>(obj: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

/**
 * obj[key] = value as an own, enumerable property, "__proto__" included (assigning that key
 * would set the prototype instead): what Object.fromEntries gives, without an entries array.
 */
export function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  if (key === '__proto__') {
    Object.defineProperty(obj, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else obj[key] = value;
}
