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
  it('numbers the items of each partition from its base offset, request by request', () => {
    const partitionOf = (item: string) => Number(item[0]);
    // Request 1: partition 0 gets a,b; partition 1 gets c. Request 2: partition 0 gets d.
    const offsets = assignOffsets(
      [['0a', '1c', '0b'], ['0d']],
      [
        [
          { partition: 0, baseOffset: '10' },
          { partition: 1, baseOffset: '7' },
        ],
        [{ partition: 0, baseOffset: '15' }],
      ],
      partitionOf,
    );
    expect(
      Object.fromEntries([...offsets].map(([k, v]) => [k, `${v.partition}@${v.offset}`])),
    ).toEqual({
      '0a': '0@10',
      '0b': '0@11',
      '1c': '1@7',
      '0d': '0@15',
    });
  });

  it('fails loudly when the answer lacks a partition that was sent to', () => {
    expect(() => assignOffsets([['0a']], [[{ partition: 1, baseOffset: '0' }]], () => 0)).toThrow(
      /no offset for partition 0/,
    );
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
