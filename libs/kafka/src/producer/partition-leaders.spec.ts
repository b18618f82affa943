import { type Message, type PartitionMetadata, Partitioners } from 'kafkajs';
import { PartitionLeaders, SpansBrokersError } from './partition-leaders';

const metadata: PartitionMetadata[] = Array.from({ length: 6 }, (_, partitionId) => ({
  partitionErrorCode: 0,
  partitionId,
  leader: partitionId % 2,
  replicas: [partitionId % 2],
  isr: [partitionId % 2],
}));

const murmur2 = Partitioners.DefaultPartitioner();
const partitionOf = (key: Buffer) =>
  murmur2({ topic: 't', partitionMetadata: metadata, message: { key, value: null } });

/** Keys whose partitions are led by broker 0 and by broker 1. */
function keysByLeader(): [Buffer, Buffer] {
  const keys = Array.from({ length: 40 }, (_, i) => Buffer.from(`library-${i}`));
  const on = (leader: number) => keys.find((k) => partitionOf(k) % 2 === leader) as Buffer;
  return [on(0), on(1)];
}

describe('PartitionLeaders', () => {
  it('knows no leader before kafkajs partitioned anything, then the leader of the key`s partition', () => {
    const leaders = new PartitionLeaders();
    const [onZero, onOne] = keysByLeader();
    expect(leaders.leaderOf(onZero)).toBeUndefined();
    const first: Message = { key: onZero, value: null };
    leaders.startSend(first);
    leaders.placed(first, partitionOf(onZero), metadata);
    expect(leaders.leaderOf(onZero)).toBe(0);
    expect(leaders.leaderOf(onOne)).toBe(1);
  });

  it('refuses a send that reaches a second leader, and accepts the next send', () => {
    const leaders = new PartitionLeaders();
    const [onZero, onOne] = keysByLeader();
    const first: Message = { key: onZero, value: null };
    const sameLeader: Message = { key: onZero, value: null };
    const otherLeader: Message = { key: onOne, value: null };
    leaders.startSend(first);
    leaders.placed(first, partitionOf(onZero), metadata);
    leaders.placed(sameLeader, partitionOf(onZero), metadata);
    expect(() => leaders.placed(otherLeader, partitionOf(onOne), metadata)).toThrow(
      SpansBrokersError,
    );
    // The next send starts afresh (a single batch never spans brokers).
    leaders.startSend(otherLeader);
    expect(() => leaders.placed(otherLeader, partitionOf(onOne), metadata)).not.toThrow();
  });
});
