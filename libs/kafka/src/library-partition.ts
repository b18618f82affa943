import { Partitioners, type PartitionerArgs } from 'kafkajs';

const defaultPartitioner = Partitioners.DefaultPartitioner();

/**
 * The partition a library's ops land on with Kafka's default (murmur2) partitioner, the same
 * one the Java client and kafkajs' DefaultPartitioner use for keyed messages.
 */
export function partitionForLibrary(libraryId: string, partitionCount: number): number {
  const partitionMetadata = Array.from({ length: partitionCount }, (_, partitionId) => ({
    partitionId,
    leader: 0,
    partitionErrorCode: 0,
    replicas: [0],
    isr: [0],
  }));
  const args: PartitionerArgs = {
    topic: '',
    partitionMetadata,
    message: { key: libraryId.toLowerCase(), value: null },
  };
  return defaultPartitioner(args);
}
