import { NODE_A, createOp, relCreateOp, rid } from '../testing/operation-builders';
import { canonicalJson, contentHash } from './canonical-json';

describe('canonicalJson / contentHash', () => {
  it('sorts keys at every level', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[1,{"y":2,"z":1}]},"b":1}',
    );
  });

  it('hashes equal content equally whatever the key order', () => {
    const op = createOp(rid(1), 'Tag', { name: 'x', color: 'red' }, NODE_A, 1);
    const reordered = { ...op, data: { color: 'red', name: 'x' } };
    expect(contentHash(reordered)).toBe(contentHash(op));
    expect(contentHash(op)).toMatch(/^[0-9a-f]{64}$/);
    expect(contentHash({ ...op, data: { name: 'y', color: 'red' } })).not.toBe(contentHash(op));
  });

  it('treats a relation CREATE without data like one with empty data', () => {
    const bare = relCreateOp('TagOnObject', rid(1), rid(2), NODE_A, 1);
    expect(contentHash(bare)).toBe(contentHash({ ...bare, data: {} }));
  });
});
