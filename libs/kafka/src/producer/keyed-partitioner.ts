import { type ICustomPartitioner, Partitioners } from 'kafkajs';
import type { PartitionLeaders } from './partition-leaders';

/**
 * kafkajs' default (murmur2) partitioner, hashing a run of messages with the same key buffer
 * once instead of per message, and remembering each key buffer's partition for the offsets
 * (and, given `leaders`, telling it where each message it places went). It places by key
 * alone, so linearlyGrouped may have it place only the first message of a run sharing a key.
 */
export function keyedPartitioner(
  partitions: WeakMap<Buffer, number>,
  leaders?: PartitionLeaders,
): ICustomPartitioner {
  return () => {
    const murmur2 = Partitioners.DefaultPartitioner();
    let lastKey: unknown = null;
    let lastCount = -1;
    let lastPartition = 0;
    return (args) => {
      const { message, partitionMetadata } = args;
      if (message.key !== lastKey || partitionMetadata.length !== lastCount) {
        lastPartition = murmur2(args);
        lastKey = message.key;
        lastCount = partitionMetadata.length;
        if (Buffer.isBuffer(message.key)) partitions.set(message.key, lastPartition);
      }
      leaders?.placed(message, lastPartition, partitionMetadata);
      return lastPartition;
    };
  };
}
