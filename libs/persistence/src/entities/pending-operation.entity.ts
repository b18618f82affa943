import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintString } from './column-transformers';

/** A record UPDATE/DELETE kept until its record's CREATE arrives (contract rule R3). */
@Entity({ name: 'pending_operations' })
export class PendingOperationEntity {
  @PrimaryColumn({ name: 'library_id', type: 'uuid' })
  libraryId!: string;

  @PrimaryColumn({ name: 'log_offset', type: 'bigint', transformer: bigintString })
  logOffset!: string;

  @Column({ name: 'record_id', type: 'uuid' })
  recordId!: string;

  @Column({ type: 'jsonb' })
  operation!: Record<string, unknown>;
}
