import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintString } from './column-transformers';

/** Stored clock of one field write: [hybrid as decimal string, node]. */
export type StoredClock = [string, string];

/**
 * A record whose CREATE was accepted. Field values and the clock of the write that set
 * each one are kept side by side so the merge engine can resume last-writer-wins.
 */
@Entity({ name: 'records' })
export class RecordEntity {
  @PrimaryColumn({ name: 'library_id', type: 'uuid' })
  libraryId!: string;

  @PrimaryColumn({ name: 'record_id', type: 'uuid' })
  recordId!: string;

  @Column({ type: 'text' })
  model!: string;

  /** Owner node for owned models, null for shared ones. */
  @Column({ type: 'uuid', nullable: true })
  owner!: string | null;

  @Column({ type: 'boolean' })
  deleted!: boolean;

  @Column({ type: 'jsonb' })
  data!: Record<string, unknown>;

  @Column({ type: 'jsonb' })
  clocks!: Record<string, StoredClock>;

  /** Offset of the last op that changed this row. */
  @Column({ name: 'updated_offset', type: 'bigint', transformer: bigintString })
  updatedOffset!: string;
}
