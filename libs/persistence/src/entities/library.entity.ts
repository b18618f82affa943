import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintString } from './column-transformers';

/** One row per library the projector has seen; counters are kept by the projector in the same transaction as the ops. */
@Entity({ name: 'libraries' })
export class LibraryEntity {
  @PrimaryColumn({ name: 'library_id', type: 'uuid' })
  libraryId!: string;

  @Column({ type: 'int' })
  partition!: number;

  /** Accepted ops currently in the feed. */
  @Column({ type: 'bigint', transformer: bigintString })
  operations!: string;

  @Column({ type: 'bigint', transformer: bigintString })
  rejected!: string;

  @Column({ name: 'first_offset', type: 'bigint', transformer: bigintString })
  firstOffset!: string;

  @Column({ name: 'last_offset', type: 'bigint', transformer: bigintString })
  lastOffset!: string;

  /** Compaction horizon: ops below this offset may be gone from the feed (0: none). */
  @Column({ name: 'compacted_before', type: 'bigint', transformer: bigintString, default: 0 })
  compactedBefore!: string;

  /** Greatest offset a compaction consulted when it dropped ops: `asOf` below it answers 410. */
  @Column({ name: 'compacted_through', type: 'bigint', transformer: bigintString, default: -1 })
  compactedThrough!: string;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
