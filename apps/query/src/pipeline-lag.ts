import type { PartitionEnds } from '@sync/kafka';

export interface PartitionLag {
  partition: number;
  /** Last offset the projector applied (next_offset - 1), null when nothing is applied. */
  appliedOffset: string | null;
  /** Kafka's high watermark: the offset the next message will get; null when Kafka did not answer. */
  endOffset: string | null;
  /** Messages written but not yet applied (endOffset - next_offset), the projector's own gauge. */
  lag: number | null;
}

/**
 * Joins the projector's positions (partition -> next_offset, from Postgres) with the topic's
 * ends (from Kafka, null when it could not be asked): every partition either side knows, in
 * order. Lag is never negative (a transaction marker can sit between the two reads).
 */
export function partitionLags(
  nextOffsets: ReadonlyMap<number, bigint>,
  ends: readonly PartitionEnds[] | null,
): PartitionLag[] {
  const highs = new Map((ends ?? []).map((end) => [end.partition, BigInt(end.high)]));
  const partitions = [...new Set([...nextOffsets.keys(), ...highs.keys()])].sort((a, b) => a - b);
  return partitions.map((partition) => {
    const next = nextOffsets.get(partition) ?? 0n;
    const high = highs.get(partition);
    const lag = high === undefined ? null : high > next ? high - next : 0n;
    return {
      partition,
      appliedOffset: next > 0n ? (next - 1n).toString() : null,
      endOffset: ends === null || high === undefined ? null : high.toString(),
      lag: lag === null ? null : Number(lag),
    };
  });
}

/** Messages the dead-letter topic holds (retention may have dropped older ones). */
export function deadLetterCount(ends: readonly PartitionEnds[]): number {
  return ends.reduce((sum, end) => sum + Number(BigInt(end.high) - BigInt(end.low)), 0);
}
