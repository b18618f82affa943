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

/**
 * Checks every element of a batch against the limits, without recursing past maxDepth (so a
 * hostile body cannot blow the stack here or in anything that walks it later). The one check of
 * JSON limits: the ingest runs it with its configured limits, the projector with MAX_JSON_LIMITS.
 * It runs on every op, so it allocates little: values wait on parallel stacks, and a path is
 * built only for an issue, from the containers entered on the way (`frames`).
 */
export function checkJsonLimits(batch: readonly unknown[], limits: JsonLimits): JsonLimitIssue[] {
  const issues: JsonLimitIssue[] = [];
  // Waiting values: the value, its depth, the frame holding it (-1: none) and its key there.
  const values: unknown[] = [];
  const depths: number[] = [];
  const parents: number[] = [];
  const keys: string[] = [];
  // Entered objects and arrays: the frame holding each and its key there.
  const frameParents: number[] = [];
  const frameKeys: string[] = [];
  const pathOf = (parent: number, key: string): string => {
    if (parent === -1) return '';
    const parts = [key];
    for (let frame = parent; frameParents[frame] !== -1; frame = frameParents[frame]) {
      parts.push(frameKeys[frame]);
    }
    return parts.reverse().join('.');
  };
  const tooLong = (index: number, path: string, length: number, what: string) =>
    issues.push({
      index,
      path,
      message: `${what} of ${length} characters; at most ${limits.maxStringLength} are accepted`,
    });
  for (let index = 0; index < batch.length; index++) {
    values.push(batch[index]);
    depths.push(1);
    parents.push(-1);
    keys.push('');
    while (values.length > 0) {
      const value = values.pop();
      const depth = depths.pop()!;
      const parent = parents.pop()!;
      const key = keys.pop()!;
      if (typeof value === 'string') {
        if (value.length > limits.maxStringLength) {
          tooLong(index, pathOf(parent, key), value.length, 'string');
        }
        continue;
      }
      if (value === null || typeof value !== 'object') continue;
      if (depth > limits.maxDepth) {
        issues.push({
          index,
          path: pathOf(parent, key),
          message: `nested deeper than ${limits.maxDepth} levels`,
        });
        continue;
      }
      const frame = frameParents.push(parent) - 1;
      frameKeys.push(key);
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          values.push(value[i]);
          depths.push(depth + 1);
          parents.push(frame);
          keys.push(String(i));
        }
        continue;
      }
      for (const name of Object.keys(value)) {
        if (name.length > limits.maxStringLength) {
          const path = pathOf(parent, key);
          tooLong(
            index,
            `${path === '' ? '' : `${path}.`}${name.slice(0, 32)}…`,
            name.length,
            'property name',
          );
          continue;
        }
        values.push((value as Record<string, unknown>)[name]);
        depths.push(depth + 1);
        parents.push(frame);
        keys.push(name);
      }
    }
  }
  return issues;
}
