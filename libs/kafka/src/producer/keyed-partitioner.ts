import { type ICustomPartitioner, type Message, Partitioners } from 'kafkajs';
import type { PartitionLeaders } from './partition-leaders';

/**
 * kafkajs' default (murmur2) partitioner, hashing a run of messages with the same key buffer
 * once instead of per message, and remembering each message's partition for the offsets (and,
 * given `leaders`, telling it where each message went).
 */
export function keyedPartitioner(
  partitions: WeakMap<Message, number>,
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
      }
      partitions.set(message, lastPartition);
      leaders?.placed(message, lastPartition, partitionMetadata);
      return lastPartition;
    };
  };
}
