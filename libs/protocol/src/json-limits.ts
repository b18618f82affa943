export interface JsonLimits {
  /** Nesting depth of one op: the op object is 1, its `data` 2, a json value inside 3... */
  maxDepth: number;
  /** Longest string (value or object key), in UTF-16 code units. */
  maxStringLength: number;
}

/**
 * The widest limits an op may have. The projector dead-letters an op beyond them, so the
 * ingest's configured limits may only narrow them: what the ingest accepts is always stored.
 */
export const MAX_JSON_LIMITS: JsonLimits = { maxDepth: 64, maxStringLength: 1024 ** 3 };

/** The ingest's limits unless configured otherwise. */
export const DEFAULT_JSON_LIMITS: JsonLimits = { maxDepth: 32, maxStringLength: 64 * 1024 };

export interface JsonLimitIssue {
  index: number;
  path: string;
  message: string;
}

interface Visit {
  value: unknown;
  depth: number;
  parent: Visit | null;
  key: string;
}

/** The dotted path of a visited value; built only for an issue, never on the way. */
function pathOf(visit: Visit): string {
  const keys: string[] = [];
  for (let at: Visit | null = visit; at?.parent; at = at.parent) keys.push(at.key);
  return keys.reverse().join('.');
}

/**
 * Checks every element of a batch against the limits, without recursing past maxDepth (so a
 * hostile body cannot blow the stack here or in anything that walks it later). The one check of
 * JSON limits: the ingest runs it with its configured limits, the projector with MAX_JSON_LIMITS.
 */
export function checkJsonLimits(batch: readonly unknown[], limits: JsonLimits): JsonLimitIssue[] {
  const issues: JsonLimitIssue[] = [];
  batch.forEach((element, index) => {
    const stack: Visit[] = [{ value: element, depth: 1, parent: null, key: '' }];
    while (stack.length > 0) {
      const visit = stack.pop()!;
      const { value, depth } = visit;
      if (typeof value === 'string') {
        if (value.length > limits.maxStringLength) {
          issues.push({
            index,
            path: pathOf(visit),
            message: `string of ${value.length} characters; at most ${limits.maxStringLength} are accepted`,
          });
        }
        continue;
      }
      if (value === null || typeof value !== 'object') continue;
      if (depth > limits.maxDepth) {
        issues.push({
          index,
          path: pathOf(visit),
          message: `nested deeper than ${limits.maxDepth} levels`,
        });
        continue;
      }
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          stack.push({ value: value[i], depth: depth + 1, parent: visit, key: String(i) });
        }
        continue;
      }
      for (const key of Object.keys(value)) {
        if (key.length > limits.maxStringLength) {
          const path = pathOf(visit);
          issues.push({
            index,
            path: `${path === '' ? '' : `${path}.`}${key.slice(0, 32)}…`,
            message: `property name of ${key.length} characters; at most ${limits.maxStringLength} are accepted`,
          });
          continue;
        }
        stack.push({
          value: (value as Record<string, unknown>)[key],
          depth: depth + 1,
          parent: visit,
          key,
        });
      }
    }
  });
  return issues;
}
