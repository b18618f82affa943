import { FieldDef } from './schema.types';
import { checkFieldValue, isIsoDatetime, normalizeFieldValue } from './value-checks';

const def = (type: FieldDef['type'], nullable = true): FieldDef => ({
  name: 'f',
  type,
  nullable,
  ...(type === 'ref' ? { model: 'Object' } : {}),
});

describe('checkFieldValue', () => {
  it.each<[FieldDef['type'], unknown[], unknown[]]>([
    ['string', ['', 'x', 'ünïcödé'], [1, true, {}, []]],
    ['int', [0, -5, Number.MAX_SAFE_INTEGER], [1.5, Number.MAX_SAFE_INTEGER + 1, '1', NaN, true]],
    ['float', [0, 1.5, -2, 1e300], [Infinity, NaN, '1.5', false]],
    ['bool', [true, false], [0, 'true']],
    [
      'datetime',
      ['2024-02-29T13:05:07.123Z', '2024-01-01', '2024-01-01T00:00:00+02:00'],
      ['2023-02-29', 'yesterday', 20240101],
    ],
    [
      'json',
      [1, 'a', true, [1, { a: null }], { deep: { x: [1] } }],
      [undefined, Infinity, () => 1, new Date()],
    ],
    [
      'ref',
      ['0a000000-0000-4000-8000-00000000000a', 'AAAAAAAA-0000-0000-0000-000000000000'],
      ['nope', 5, '0a000000000040008000000000000000'],
    ],
  ])('%s', (type, good, bad) => {
    for (const v of good) expect(checkFieldValue(def(type), v)).toBeNull();
    for (const v of bad) expect(checkFieldValue(def(type), v)).toEqual(expect.any(String));
  });

  it('allows null unless nullable is false', () => {
    expect(checkFieldValue(def('int'), null)).toBeNull();
    expect(checkFieldValue(def('int', false), null)).toBe('must not be null');
    expect(checkFieldValue(def('json', false), null)).toBe('must not be null');
  });

  it('lowercases refs and keeps everything else as sent', () => {
    expect(normalizeFieldValue(def('ref'), 'ABCDEF00-0000-0000-0000-00000000000A')).toBe(
      'abcdef00-0000-0000-0000-00000000000a',
    );
    expect(normalizeFieldValue(def('string'), 'ABC')).toBe('ABC');
    expect(normalizeFieldValue(def('datetime'), '2024-01-01T00:00:00.000+00:00')).toBe(
      '2024-01-01T00:00:00.000+00:00',
    );
  });
});

describe('isIsoDatetime', () => {
  it.each([
    '2024-02-29',
    '2024-02-29T13:05Z',
    '2024-02-29T13:05:07Z',
    '2024-02-29T13:05:07.123456789+02:00',
    '2024-02-29T13:05:07-0530',
    '2024-02-29 13:05:07Z',
    '2024-02-29T13:05:07',
    '2016-12-31T23:59:60Z',
  ])('accepts %s', (s) => expect(isIsoDatetime(s)).toBe(true));

  it.each([
    '2023-02-29',
    '2024-13-01',
    '2024-04-31',
    '2024-01-01T24:00:00Z',
    '2024-01-01T12:60Z',
    '2024-01-01T12:00:00+25:00',
    '2024-1-1',
    '2024-01-01T',
    '2024-01-01T12',
    'now',
    '',
  ])('rejects %s', (s) => expect(isIsoDatetime(s)).toBe(false));
});

describe('text Postgres cannot store', () => {
  it.each([
    ['a NUL character', 'a\u0000b'],
    ['a lone high surrogate', 'x\ud800'],
    ['a lone low surrogate', '\udc00y'],
  ])('rejects a string with %s', (_what, value) => {
    expect(checkFieldValue(def('string'), value)).toMatch(/not storable/);
    expect(checkFieldValue(def('json'), { nested: [value] })).toMatch(/not storable/);
    expect(checkFieldValue(def('json'), { [value]: 1 })).toMatch(/not storable/);
  });

  it('accepts paired surrogates (emoji) and other control characters', () => {
    expect(checkFieldValue(def('string'), 'tag \ud83c\udff7\ufe0f\t\n')).toBeNull();
    expect(checkFieldValue(def('json'), { '\ud83d\ude00': ['\u0001'] })).toBeNull();
  });
});
