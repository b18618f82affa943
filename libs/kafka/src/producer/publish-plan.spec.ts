import fc from 'fast-check';
import {
  RECORD_BATCH_OVERHEAD,
  RecordTooLargeError,
  assignOffsets,
  groupInOrder,
  recordBytes,
  splitIntoRecordBatches,
} from './publish-plan';

describe('recordBytes', () => {
  it('counts UTF-8 bytes of key and value plus the record framing bound', () => {
    expect(recordBytes('ab', 'é')).toBe(2 + 2 + 24);
    expect(recordBytes(Buffer.from('ab'), Buffer.from('é'))).toBe(2 + 2 + 24);
  });
});

describe('splitIntoRecordBatches', () => {
  const size = (n: number) => n;

  it('keeps order and never exceeds the byte or item limit', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 200 }), { maxLength: 300 }),
        fc.integer({ min: 200 + RECORD_BATCH_OVERHEAD, max: 2000 }),
        fc.integer({ min: 1, max: 50 }),
        (items, maxBytes, maxItems) => {
          const groups = splitIntoRecordBatches(items, size, maxBytes, maxItems);
          expect(groups.flat()).toEqual(items);
          for (const group of groups) {
            expect(group.length).toBeGreaterThan(0);
            expect(group.length).toBeLessThanOrEqual(maxItems);
            expect(RECORD_BATCH_OVERHEAD + group.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(
              maxBytes,
            );
          }
        },
      ),
    );
  });

  it('starts a new group only when the next item would not fit', () => {
    const max = RECORD_BATCH_OVERHEAD + 100;
    expect(splitIntoRecordBatches([60, 40, 1, 99], size, max)).toEqual([
      [60, 40],
      [1, 99],
    ]);
  });

  it('refuses an item that cannot fit any record batch, naming its index', () => {
    const max = RECORD_BATCH_OVERHEAD + 100;
    expect(() => splitIntoRecordBatches([10, 101], size, max)).toThrow(RecordTooLargeError);
    try {
      splitIntoRecordBatches([10, 101], size, max);
    } catch (error) {
      expect((error as RecordTooLargeError).index).toBe(1);
    }
  });
});

describe('assignOffsets', () => {
  interface Item {
    key: string;
  }
  const keyOf = (item: Item) => item.key;
  // Keys 'a'..'f' lead to partitions 0, 1, 2, 0, 1, 2.
  const partitionOf = (key: string) => (key.charCodeAt(0) - 97) % 3;

  it('gives the first and last item of each run of a key the offsets a per-item count gives', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'), { maxLength: 30 }), {
          maxLength: 4,
        }),
        fc.array(fc.bigInt({ min: 0n, max: 2n ** 40n }), { minLength: 3, maxLength: 3 }),
        (requestKeys, bases) => {
          const requests = requestKeys.map((keys) => keys.map((key) => ({ key })));
          const answers = requests.map((_, r) =>
            [0, 1, 2].map((partition) => ({
              partition,
              baseOffset: String(bases[partition] + BigInt(1000 * r)),
            })),
          );
          const offsets = assignOffsets(requests, answers, keyOf, partitionOf);
          const expected = new Map<Item, string>();
          requests.forEach((items, r) => {
            const placed = [0, 0, 0];
            items.forEach((item, i) => {
              const partition = partitionOf(item.key);
              const offset = bases[partition] + BigInt(1000 * r + placed[partition]++);
              const runStart = i === 0 || items[i - 1].key !== item.key;
              const runEnd = i === items.length - 1 || items[i + 1].key !== item.key;
              if (runStart || runEnd) expected.set(item, `${partition}@${offset}`);
            });
          });
          const actual = new Map([...offsets].map(([k, v]) => [k, `${v.partition}@${v.offset}`]));
          expect(actual).toEqual(expected);
        },
      ),
    );
  });

  it('numbers the runs of each partition from its base offset, request by request', () => {
    const [a1, a2, d, a3, b] = ['a', 'a', 'd', 'a', 'b'].map((key) => ({ key }));
    // Request 1: partition 0 gets a1, a2, d; partition 1 gets b. Request 2: partition 0 gets a3.
    const offsets = assignOffsets(
      [[a1, a2, b, d], [a3]],
      [
        [
          { partition: 0, baseOffset: '10' },
          { partition: 1, baseOffset: '7' },
        ],
        [{ partition: 0, baseOffset: '15' }],
      ],
      keyOf,
      partitionOf,
    );
    expect([a1, a2, b, d, a3].map((item) => offsets.get(item)?.offset)).toEqual([
      10n,
      11n,
      7n,
      12n,
      15n,
    ]);
  });

  it('fails loudly when the answer lacks a partition that was sent to', () => {
    expect(() =>
      assignOffsets([[{ key: 'a' }]], [[{ partition: 1, baseOffset: '0' }]], keyOf, partitionOf),
    ).toThrow(/no offset for partition 0/);
  });
});

describe('groupInOrder', () => {
  it('groups by key, keys in order of first appearance, items in order', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 60 }), (keys) => {
        const items = keys.map((key, index) => ({ key, index }));
        const groups = groupInOrder(items, (item) => item.key);
        expect(groups.map((g) => g[0].key)).toEqual([...new Set(keys)]);
        for (const group of groups) {
          expect(group.every((item) => item.key === group[0].key)).toBe(true);
          expect(group).toEqual(items.filter((item) => item.key === group[0].key));
        }
        expect(groups.flat()).toHaveLength(items.length);
      }),
    );
  });
});
