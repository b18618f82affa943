import { SyncError } from '@sync/platform';
import { DEFAULT_LIMIT, DEFAULT_WAIT_MS, ParamReader, parseLibraryId } from './query-params';

function problems(read: (reader: ParamReader) => unknown, query: Record<string, unknown>) {
  const reader = new ParamReader(query);
  read(reader);
  try {
    reader.done();
    return [];
  } catch (error) {
    expect(error).toBeInstanceOf(SyncError);
    expect((error as SyncError).code).toBe('INVALID_PARAMETER');
    return (error as SyncError).details as { path: string; message: string }[];
  }
}

describe('parseLibraryId', () => {
  it('lowercases any-version UUIDs', () => {
    expect(parseLibraryId('6F1C2B3A-4D5E-0F60-0A7B-9C0D1E2F3A4B')).toBe(
      '6f1c2b3a-4d5e-0f60-0a7b-9c0d1e2f3a4b',
    );
  });

  it.each(['', 'x', '6f1c2b3a4d5e4f608a7b9c0d1e2f3a4b', '{6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b}'])(
    'refuses %p with INVALID_LIBRARY_ID',
    (raw) => {
      expect(() => parseLibraryId(raw)).toThrow(
        expect.objectContaining({ code: 'INVALID_LIBRARY_ID' }),
      );
    },
  );
});

describe('ParamReader', () => {
  it('applies defaults when parameters are absent', () => {
    const reader = new ParamReader({});
    expect(reader.limit()).toBe(DEFAULT_LIMIT);
    expect(reader.consistency()).toEqual({ minOffset: undefined, waitMs: DEFAULT_WAIT_MS });
    expect(reader.offset('after', true)).toBeUndefined();
    expect(() => reader.done()).not.toThrow();
  });

  it('reads valid values', () => {
    const reader = new ParamReader({
      limit: '1000',
      minOffset: '9223372036854775807',
      waitMs: '30000',
      after: '-1',
      item: 'AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE',
    });
    expect(reader.limit()).toBe(1000);
    expect(reader.consistency()).toEqual({ minOffset: 9223372036854775807n, waitMs: 30000 });
    expect(reader.offset('after', true)).toBe(-1n);
    expect(reader.uuid('item')).toBe('aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee');
    expect(() => reader.done()).not.toThrow();
  });

  it.each([
    ['limit', '0'],
    ['limit', '1001'],
    ['limit', '+5'],
    ['limit', '05'],
    ['limit', ' 5'],
    ['limit', '1e2'],
    ['limit', ['1', '2']],
  ])('refuses limit=%p %p', (_name, value) => {
    expect(problems((r) => r.limit(), { limit: value })).toEqual([
      { path: 'limit', message: expect.any(String) },
    ]);
  });

  it.each(['-1', '1.0', '9223372036854775808', '00', 'x', ''])('refuses minOffset=%p', (value) => {
    expect(problems((r) => r.consistency(), { minOffset: value })).toEqual([
      { path: 'minOffset', message: expect.any(String) },
    ]);
  });

  it.each(['-1', '30001', '1.5', ''])('refuses waitMs=%p', (value) => {
    expect(problems((r) => r.consistency(), { waitMs: value })).toEqual([
      { path: 'waitMs', message: expect.any(String) },
    ]);
  });

  it('accepts -1 for `after` only where allowed', () => {
    expect(problems((r) => r.offset('after', true), { after: '-1' })).toEqual([]);
    expect(problems((r) => r.offset('after', true), { after: '-2' })).toHaveLength(1);
    expect(problems((r) => r.offset('minOffset'), { minOffset: '-1' })).toHaveLength(1);
  });

  it('checks names against the allowed set and cursors with their decoder', () => {
    const found = problems(
      (r) => {
        r.name('model', (n) => n === 'Tag', 'model');
        r.cursor(() => undefined);
      },
      { model: 'tag', cursor: 'abc' },
    );
    expect(found.map((p) => p.path)).toEqual(['model', 'cursor']);
  });

  it('reports every problem in one error', () => {
    const found = problems(
      (r) => {
        r.limit();
        r.uuid('group');
        r.consistency();
      },
      { limit: 'x', group: 'y', minOffset: 'z', waitMs: 'w' },
    );
    expect(found.map((p) => p.path)).toEqual(['limit', 'group', 'minOffset', 'waitMs']);
  });
});
