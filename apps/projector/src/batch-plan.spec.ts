import type { Operation } from '@sync/protocol';
import { groupByLibrary, planChunks } from './batch-plan';

const op = {} as Operation;
const messages = (spec: string) =>
  [...spec].map((libraryId, i) => ({ libraryId, offset: BigInt(i), op }));

describe('groupByLibrary', () => {
  it('keeps log order inside each library and first-seen order across libraries', () => {
    const groups = groupByLibrary(messages('abacb'));
    expect(groups.map((g) => [g.libraryId, g.ops.map((o) => Number(o.offset))])).toEqual([
      ['a', [0, 2]],
      ['b', [1, 4]],
      ['c', [3]],
    ]);
  });
});

describe('planChunks', () => {
  const shape = (chunks: ReturnType<typeof planChunks>) =>
    chunks.map((chunk) =>
      chunk.map((g) => `${g.libraryId}${g.ops.map((o) => o.offset).join(',')}`),
    );

  it('packs whole libraries up to the step size', () => {
    expect(shape(planChunks(groupByLibrary(messages('aabbcd')), 4))).toEqual([
      ['a0,1', 'b2,3'],
      ['c4', 'd5'],
    ]);
  });

  it('cuts a large library into consecutive pieces, never two pieces in one step', () => {
    const chunks = planChunks(groupByLibrary(messages('aaaaab')), 2);
    expect(shape(chunks)).toEqual([['a0,1'], ['a2,3'], ['a4', 'b5']]);
    for (const chunk of chunks) {
      expect(new Set(chunk.map((g) => g.libraryId)).size).toBe(chunk.length);
    }
  });

  it('covers every op exactly once, in order per library', () => {
    const input = groupByLibrary(messages('abcabcaabbcc'.repeat(7)));
    for (const size of [1, 3, 5, 100]) {
      const flat = planChunks(input, size).flat();
      for (const group of input) {
        const got = flat.filter((g) => g.libraryId === group.libraryId).flatMap((g) => g.ops);
        expect(got).toEqual(group.ops);
      }
    }
  });
});
