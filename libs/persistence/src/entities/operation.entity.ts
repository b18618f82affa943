import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintString } from './column-transformers';

/** The op log that nodes pull from: accepted, non-duplicate, non-rejected ops in log order. */
@Entity({ name: 'operations' })
export class OperationEntity {
  @PrimaryColumn({ name: 'library_id', type: 'uuid' })
  libraryId!: string;

  @PrimaryColumn({ name: 'log_offset', type: 'bigint', transformer: bigintString })
  logOffset!: string;

  @Column({ type: 'uuid' })
  node!: string;

  /** Unsigned 64-bit HLC value; numeric because a signed bigint overflows in 2038. */
  @Column({ type: 'numeric', precision: 20, scale: 0 })
  hybrid!: string;

  @Column({ name: 'content_hash', type: 'text' })
  contentHash!: string;

  /** null once compacted (docs/RETENTION.md): the row stays for duplicate detection, out of the feed. */
  @Column({ type: 'jsonb', nullable: true })
  operation!: Record<string, unknown> | null;
}
