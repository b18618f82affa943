import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintString } from './column-transformers';

/** Every rejected op is kept with its reason (contract rule D2). */
@Entity({ name: 'rejected_operations' })
export class RejectedOperationEntity {
  @PrimaryColumn({ name: 'library_id', type: 'uuid' })
  libraryId!: string;

  @PrimaryColumn({ name: 'log_offset', type: 'bigint', transformer: bigintString })
  logOffset!: string;

  @Column({ type: 'jsonb' })
  operation!: Record<string, unknown>;

  @Column({ type: 'text' })
  reason!: string;

  @Column({ type: 'text' })
  message!: string;

  @Column({ name: 'rejected_at', type: 'timestamptz' })
  rejectedAt!: Date;
}
