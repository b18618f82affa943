import { partitionForLibrary } from '@sync/kafka';
import { correctedPartitions, correctionOffsets } from './correction-offsets';

const A = '00000000-0000-4000-8000-00000000000a';
const B = '00000000-0000-4000-8000-00000000000b';
const C = '00000000-0000-4000-8000-00000000000c';

describe('correction offsets', () => {
  it('takes the recorded partition, else the default partitioner, each partition once', () => {
    const libraries = [
      { libraryId: A, partition: 2 },
      { libraryId: B, partition: 2 },
      { libraryId: C, partition: undefined },
    ];
    const unseen = partitionForLibrary(C, 4);
    expect(correctedPartitions(libraries, 4)).toEqual(
      [...new Set([2, unseen])].sort((a, b) => a - b),
    );
  });

  it("gives each library its partition's reserved offset", () => {
    const libraries = [
      { libraryId: A, partition: 0 },
      { libraryId: B, partition: 1 },
      { libraryId: C, partition: 0 },
    ];
    const offsets = correctionOffsets(
      libraries,
      2,
      new Map([
        [0, 17n],
        [1, 5n],
      ]),
    );
    expect(offsets).toEqual(
      new Map([
        [A, 17n],
        [B, 5n],
        [C, 17n],
      ]),
    );
  });

  it('refuses a library whose partition got no offset', () => {
    expect(() =>
      correctionOffsets([{ libraryId: A, partition: 1 }], 2, new Map([[0, 3n]])),
    ).toThrow('no offset reserved in partition 1');
  });
});
