import fc from 'fast-check';
import { setOwn } from './json';

describe('setOwn', () => {
  it('makes "__proto__" an own, enumerable key and leaves the prototype alone', () => {
    const obj: Record<string, unknown> = {};
    setOwn(obj, '__proto__', { polluted: true });
    expect(Object.getPrototypeOf(obj)).toBe(Object.prototype);
    expect(Object.hasOwn(obj, '__proto__')).toBe(true);
    expect(Object.keys(obj)).toEqual(['__proto__']);
    expect(JSON.stringify(obj)).toBe('{"__proto__":{"polluted":true}}');
    expect((obj as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it('builds what Object.fromEntries builds, keys in the same order', () => {
    const key = fc.oneof(
      fc.constantFrom('__proto__', 'constructor', 'toString', '1', ''),
      fc.string(),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(key, fc.integer())), (entries) => {
        const obj: Record<string, number> = {};
        for (const [k, v] of entries) setOwn(obj, k, v);
        const expected = Object.fromEntries(entries);
        expect(Object.entries(obj)).toEqual(Object.entries(expected));
        expect(Object.getPrototypeOf(obj)).toBe(Object.prototype);
      }),
    );
  });
});
