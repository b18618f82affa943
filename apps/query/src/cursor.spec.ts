import fc from 'fast-check';
import {
  libraryCursor,
  operationCursor,
  recordCursor,
  rejectedCursor,
  relationCursor,
} from './cursor';

describe('cursors', () => {
  it('round-trip their keys', () => {
    fc.assert(
      fc.property(fc.uuid(), fc.bigInt({ min: 0n, max: (1n << 63n) - 1n }), (id, offset) => {
        expect(recordCursor.decode(recordCursor.encode(id))).toBe(id.toLowerCase());
        expect(libraryCursor.decode(libraryCursor.encode(id))).toBe(id.toLowerCase());
        expect(operationCursor.decode(operationCursor.encode(offset.toString()))).toBe(offset);
        const key = { relation: 'TagOnObject', item: id, group: id };
        expect(relationCursor.decode(relationCursor.encode(key))).toEqual(key);
      }),
    );
  });

  it('are URL safe', () => {
    const cursor = relationCursor.encode({
      relation: 'ObjectInAlbum',
      item: 'ffffffff-ffff-ffff-ffff-ffffffffffff',
      group: '00000000-0000-0000-0000-000000000000',
    });
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  it('are not interchangeable between lists', () => {
    const id = '6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b';
    expect(libraryCursor.decode(recordCursor.encode(id))).toBeUndefined();
    expect(rejectedCursor.decode(operationCursor.encode('5'))).toBeUndefined();
  });

  it('refuse anything that is not a well-formed cursor', () => {
    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const bad = [
      '',
      'not base64!',
      b64({ k: 'rec' }),
      b64(['rec']),
      b64(['rec', 'not-a-uuid']),
      b64(['rec', 5]),
      b64(['op', '-1']),
      b64(['op', '01']),
      b64(['op', '9223372036854775808']),
      b64([
        'rel',
        'Bad Name',
        '6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b',
        '6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b',
      ]),
      b64([
        'rel',
        'T\u0000',
        '6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b',
        '6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b',
      ]),
      'A'.repeat(600),
    ];
    for (const cursor of bad) {
      expect([
        recordCursor.decode(cursor),
        operationCursor.decode(cursor),
        relationCursor.decode(cursor),
      ]).toEqual([undefined, undefined, undefined]);
    }
  });
});
