/*
 * Pure planning for OperationProducer: how messages are split into produce requests, and which
 * offset each message got from the broker's answers.
 */

/** Record batch header (v2) and a generous per-record framing bound (varints, attributes). */
export const RECORD_BATCH_OVERHEAD = 61;
export const RECORD_OVERHEAD = 24;

/** Upper bound of the bytes a record takes in an uncompressed record batch. */
export function recordBytes(key: Uint8Array | string, value: Uint8Array | string): number {
  const size = (part: Uint8Array | string) =>
    typeof part === 'string' ? Buffer.byteLength(part) : part.byteLength;
  return size(key) + size(value) + RECORD_OVERHEAD;
}

export class RecordTooLargeError extends Error {
  override name = 'RecordTooLargeError';

  constructor(
    readonly index: number,
    readonly bytes: number,
    readonly maxBytes: number,
  ) {
    super(
      `operation at index ${index} takes ${bytes} bytes, more than a record batch may hold (${maxBytes})`,
    );
  }
}

/**
 * Splits items, in order, into groups of at most maxItems whose record batch stays within
 * maxBytes. Throws RecordTooLargeError when a single item cannot fit.
 */
export function splitIntoRecordBatches<T>(
  items: readonly T[],
  bytesOf: (item: T) => number,
  maxBytes: number,
  maxItems = Number.MAX_SAFE_INTEGER,
): T[][] {
  const groups: T[][] = [];
  let current: T[] = [];
  let size = RECORD_BATCH_OVERHEAD;
  for (let index = 0; index < items.length; index++) {
    const item = items[index];
    const bytes = bytesOf(item);
    if (bytes + RECORD_BATCH_OVERHEAD > maxBytes) {
      throw new RecordTooLargeError(index, bytes, maxBytes);
    }
    if (current.length > 0 && (size + bytes > maxBytes || current.length >= maxItems)) {
      groups.push(current);
      current = [];
      size = RECORD_BATCH_OVERHEAD;
    }
    current.push(item);
    size += bytes;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

/** Items grouped by key, keys in order of first appearance, each group in the items' order. */
export function groupInOrder<T, K>(items: readonly T[], keyOf: (item: T) => K): T[][] {
  const groups = new Map<K, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [item]);
    else group.push(item);
  }
  return [...groups.values()];
}

export interface PartitionAppend {
  partition: number;
  /** Offset of the partition's first record in the request (kafkajs gives a string). */
  baseOffset?: string | number;
}

/**
 * The offsets of the first and last item of every run of items with the same key (`keyOf`, by
 * identity) in each request, given the produce requests sent (`requests[i]` in the order sent)
 * and the broker's answer to each; a run's items are consecutive offsets of its key's
 * partition. Within one request the items of a partition form one record batch, in request
 * order, starting at that partition's base offset. A caller needs no more: a publish is one
 * run (one library, one key), or several runs when it spans requests.
 */
export function assignOffsets<T, K>(
  requests: readonly (readonly T[])[],
  answers: readonly (readonly PartitionAppend[])[],
  keyOf: (item: T) => K,
  partitionOf: (key: K) => number,
): Map<T, { partition: number; offset: bigint }> {
  const offsets = new Map<T, { partition: number; offset: bigint }>();
  requests.forEach((items, r) => {
    const base = new Map<number, bigint>();
    for (const append of answers[r] ?? []) {
      if (append.baseOffset !== undefined) base.set(append.partition, BigInt(append.baseOffset));
    }
    // Items of each partition placed so far in this request.
    const placed = new Map<number, number>();
    for (let start = 0; start < items.length;) {
      const key = keyOf(items[start]);
      let end = start + 1;
      while (end < items.length && keyOf(items[end]) === key) end++;
      const partition = partitionOf(key);
      const first = base.get(partition);
      if (first === undefined) {
        throw new Error(`the broker's answer has no offset for partition ${partition}`);
      }
      const position = placed.get(partition) ?? 0;
      placed.set(partition, position + end - start);
      offsets.set(items[start], { partition, offset: first + BigInt(position) });
      offsets.set(items[end - 1], {
        partition,
        offset: first + BigInt(position + end - 1 - start),
      });
      start = end;
    }
  });
  return offsets;
}
