import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintString } from './column-transformers';

/**
 * The next Kafka offset to apply per partition. Written in the same transaction as the
 * effects of the messages before it, which is what makes application exactly-once.
 */
@Entity({ name: 'partition_offsets' })
export class PartitionOffsetEntity {
  @PrimaryColumn({ type: 'text' })
  topic!: string;

  @PrimaryColumn({ type: 'int' })
  partition!: number;

  @Column({ name: 'next_offset', type: 'bigint', transformer: bigintString })
  nextOffset!: string;

  @Column({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
