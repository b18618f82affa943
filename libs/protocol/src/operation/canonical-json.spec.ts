import fc from 'fast-check';
import { NODE_A, createOp, relCreateOp, rid } from '../testing/operation-builders';
import { canonicalJson, contentHash, operationJson } from './canonical-json';
import type { Operation } from './operation.types';

/** The original, straightforward definition: the fast one must give the same text for anything. */
function referenceCanonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(referenceCanonical).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${referenceCanonical(obj[k])}`).join(',')}}`;
}

describe('canonicalJson / contentHash', () => {
  it('sorts keys at every level', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[1,{"y":2,"z":1}]},"b":1}',
    );
  });

  it('gives the same text as the reference definition for any value', () => {
    fc.assert(
      fc.property(
        fc.anything({
          withSparseArray: true,
          withNullPrototype: true,
          withObjectString: true,
          withBoxedValues: false,
          withMap: false,
          withSet: false,
          withDate: false,
          withTypedArray: false,
          withBigInt: false,
        }),
        (value) => {
          expect(canonicalJson(value)).toBe(referenceCanonical(value));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('operationJson gives canonicalJson of any object, op-shaped or not', () => {
    const keys = ['data', 'field', 'model', 'node', 'recordId', 'relation', 'relationGroup'];
    const opKeys = [...keys, 'relationItem', 'timestamp', 'type', 'value'];
    const value = fc.oneof(fc.jsonValue(), fc.constant(undefined));
    const opLike = fc.oneof(
      // Only op keys, in any order and any subset, undefined values included.
      fc
        .shuffledSubarray(opKeys)
        .chain((chosen) =>
          fc
            .tuple(...chosen.map(() => value))
            .map((values) => Object.fromEntries(chosen.map((key, i) => [key, values[i]]))),
        ),
      // Op keys plus others (the general path).
      fc.dictionary(fc.oneof(fc.constantFrom(...opKeys), fc.string()), value),
    );
    fc.assert(
      fc.property(opLike, (op) => {
        expect(operationJson(op as unknown as Operation)).toBe(canonicalJson(op));
      }),
      { numRuns: 3000 },
    );
    const ops = [
      createOp(rid(1), 'Tag', { name: 'x', color: 'red' }, NODE_A, 1),
      relCreateOp('TagOnObject', rid(1), rid(2), NODE_A, 2),
    ];
    for (const op of ops) expect(operationJson(op)).toBe(canonicalJson(op));
  });

  // Hashes are stored (operations.content_hash) and compared with ops that arrive later: pinned.
  it('keeps the stored hashes of earlier versions', () => {
    const create = {
      type: 'CREATE',
      recordId: '00000000-0000-4000-8000-000000000001',
      model: 'Tag',
      data: { name: 'x "y"\n\u00e9', color: null, size: 1.5, list: [1, null, { b: 2, a: 'z' }] },
      node: '0a000000-0000-4000-8000-00000000000a',
      timestamp: { hybrid: '7300000000000000000' },
    } as unknown as Operation;
    const update = {
      type: 'UPDATE',
      recordId: '00000000-0000-4000-8000-000000000002',
      field: 'name',
      value: 'q',
      node: '0b000000-0000-4000-8000-00000000000b',
      timestamp: { hybrid: '7300000000000000001' },
    } as unknown as Operation;
    expect(contentHash(create)).toBe(
      'dbee887abfd80920578a1298d65c390c952373d3d179dd8d908d421960ab6087',
    );
    expect(contentHash(update)).toBe(
      '66539ecc4b85f7cfcc968fc805699b8424370b896df5d625a037ae1ed0e972f5',
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
