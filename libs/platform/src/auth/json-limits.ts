export interface JsonLimits {
  /** Nesting depth of one op: the op object is 1, its `data` 2, a json value inside 3... */
  maxDepth: number;
  /** Longest string (value or object key), in UTF-16 code units. */
  maxStringLength: number;
}

export const DEFAULT_JSON_LIMITS: JsonLimits = { maxDepth: 32, maxStringLength: 64 * 1024 };

export interface JsonLimitIssue {
  index: number;
  path: string;
  message: string;
}

/**
 * Checks every element of a batch against the limits, without recursing past maxDepth (so a
 * hostile body cannot blow the stack here or in anything that walks it later).
 */
export function checkJsonLimits(batch: readonly unknown[], limits: JsonLimits): JsonLimitIssue[] {
  const issues: JsonLimitIssue[] = [];
  batch.forEach((element, index) => {
    const stack: { value: unknown; path: string; depth: number }[] = [
      { value: element, path: '', depth: 1 },
    ];
    while (stack.length > 0) {
      const { value, path, depth } = stack.pop()!;
      if (typeof value === 'string') {
        if (value.length > limits.maxStringLength) {
          issues.push({
            index,
            path,
            message: `string of ${value.length} characters; at most ${limits.maxStringLength} are accepted`,
          });
        }
        continue;
      }
      if (value === null || typeof value !== 'object') continue;
      if (depth > limits.maxDepth) {
        issues.push({
          index,
          path,
          message: `nested deeper than ${limits.maxDepth} levels`,
        });
        continue;
      }
      const entries: [string, unknown][] = Array.isArray(value)
        ? value.map((item, i) => [String(i), item])
        : Object.entries(value);
      for (const [key, child] of entries) {
        const childPath = path === '' ? key : `${path}.${key}`;
        if (key.length > limits.maxStringLength) {
          issues.push({
            index,
            path: `${path === '' ? '' : `${path}.`}${key.slice(0, 32)}…`,
            message: `property name of ${key.length} characters; at most ${limits.maxStringLength} are accepted`,
          });
          continue;
        }
        stack.push({ value: child, path: childPath, depth: depth + 1 });
      }
    }
  });
  return issues;
}
