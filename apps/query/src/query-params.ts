import { SyncError } from '@sync/platform';
import { normalizeUuid } from '@sync/protocol';

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;
export const DEFAULT_WAIT_MS = 5000;
export const MAX_WAIT_MS = 30000;
/** Kafka offsets are signed 64-bit; anything larger cannot be a position in the log. */
export const MAX_OFFSET = (1n << 63n) - 1n;

/** What the query string parser gives: a string, or an array when a name repeats. */
export type RawQuery = Record<string, unknown>;

export interface ParamProblem {
  path: string;
  message: string;
}

const DECIMAL = /^(0|[1-9]\d*)$/;

export function parseLibraryId(raw: unknown): string {
  const id = normalizeUuid(raw);
  if (id === null) {
    throw new SyncError('INVALID_LIBRARY_ID', `library id must be a UUID, got ${describe(raw)}`);
  }
  return id;
}

/**
 * Reads query and path parameters, collecting every problem so one 400 names all of them.
 * Unknown query parameters are ignored (see apps/query/README.md).
 */
/** Values of a boolean switch such as `explain`. */
export const BOOLEANS: readonly string[] = ['true', 'false'];

export class ParamReader {
  private readonly problems: ParamProblem[] = [];

  constructor(private readonly query: RawQuery) {}

  fail(path: string, message: string): void {
    this.problems.push({ path, message });
  }

  /** True when the query does not name this parameter at all. */
  absent(name: string): boolean {
    return this.query[name] === undefined;
  }

  /** The single string value of a query parameter; undefined when absent. */
  private single(name: string): string | undefined {
    const raw = this.query[name];
    if (raw === undefined) return undefined;
    if (typeof raw !== 'string') {
      this.fail(name, 'must be given at most once');
      return undefined;
    }
    return raw;
  }

  uuid(name: string, raw: unknown = this.single(name)): string | undefined {
    if (raw === undefined) return undefined;
    const id = normalizeUuid(raw);
    if (id === null) this.fail(name, `must be a UUID, got ${describe(raw)}`);
    return id ?? undefined;
  }

  /** `limit`: default 100, at most `max` (the contract's 1000 unless a streamed form allows more). */
  limit(max = MAX_LIMIT): number {
    const raw = this.single('limit');
    if (raw === undefined) return DEFAULT_LIMIT;
    const value = DECIMAL.test(raw) ? Number(raw) : NaN;
    if (!(value >= 1 && value <= max)) {
      this.fail('limit', `must be an integer from 1 to ${max}, got ${describe(raw)}`);
      return DEFAULT_LIMIT;
    }
    return value;
  }

  /** A log offset (decimal string, 0 to 2^63-1), or -1 when `allowMinusOne` (before the first). */
  offset(name: string, allowMinusOne = false, raw = this.single(name)): bigint | undefined {
    if (raw === undefined) return undefined;
    if (allowMinusOne && raw === '-1') return -1n;
    if (DECIMAL.test(raw) && raw.length <= 19 && BigInt(raw) <= MAX_OFFSET) return BigInt(raw);
    this.fail(
      name,
      `must be a log offset: a decimal integer from ${allowMinusOne ? '-1' : '0'} to ${MAX_OFFSET}, got ${describe(raw)}`,
    );
    return undefined;
  }

  waitMs(): number {
    const raw = this.single('waitMs');
    if (raw === undefined) return DEFAULT_WAIT_MS;
    const value = DECIMAL.test(raw) ? Number(raw) : NaN;
    if (!(value >= 0 && value <= MAX_WAIT_MS)) {
      this.fail('waitMs', `must be an integer from 0 to ${MAX_WAIT_MS}, got ${describe(raw)}`);
      return DEFAULT_WAIT_MS;
    }
    return value;
  }

  /** A boolean switch: `true` or `false`, absent = false. */
  flag(param: string): boolean {
    return this.name(param, (value) => BOOLEANS.includes(value), 'value') === 'true';
  }

  /** A name that must be one of `allowed` (models, relations). */
  name(param: string, allowed: (name: string) => boolean, what: string): string | undefined {
    const raw = this.single(param);
    if (raw === undefined) return undefined;
    if (!allowed(raw)) {
      this.fail(param, `unknown ${what} ${describe(raw)}`);
      return undefined;
    }
    return raw;
  }

  cursor<T>(decode: (cursor: string) => T | undefined): T | undefined {
    const raw = this.single('cursor');
    if (raw === undefined) return undefined;
    const value = decode(raw);
    if (value === undefined) this.fail('cursor', 'is not a cursor returned by this endpoint');
    return value;
  }

  /** Read-your-writes parameters, accepted by every route under /libraries/{libraryId}. */
  consistency(): ConsistencyParams {
    const minOffset = this.offset('minOffset');
    const waitMs = this.waitMs();
    return { minOffset, waitMs };
  }

  /** Throws INVALID_PARAMETER listing every problem found so far. */
  done(): void {
    if (this.problems.length === 0) return;
    const names = [...new Set(this.problems.map((p) => p.path))].join(', ');
    throw new SyncError('INVALID_PARAMETER', `invalid parameter: ${names}`, [...this.problems]);
  }
}

export interface ConsistencyParams {
  /** Answer only once the library's partition is applied through this offset. */
  minOffset?: bigint;
  waitMs: number;
}

function describe(raw: unknown): string {
  if (typeof raw === 'string') {
    return JSON.stringify(raw.length > 60 ? `${raw.slice(0, 60)}...` : raw);
  }
  return raw === undefined ? 'nothing' : typeof raw;
}
