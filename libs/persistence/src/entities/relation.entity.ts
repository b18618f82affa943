import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintString } from './column-transformers';
import type { StoredClock } from './record.entity';

/**
 * A many-to-many relation key with its presence (greatest CREATE/DELETE) and fields.
 * Visibility also needs both ends to be visible records: the query service joins on
 * (library_id, item_id) and (library_id, group_id) against records.
 */
@Entity({ name: 'relations' })
export class RelationEntity {
  @PrimaryColumn({ name: 'library_id', type: 'uuid' })
  libraryId!: string;

  @PrimaryColumn({ type: 'text' })
  relation!: string;

  @PrimaryColumn({ name: 'item_id', type: 'uuid' })
  itemId!: string;

  @PrimaryColumn({ name: 'group_id', type: 'uuid' })
  groupId!: string;

  @Column({ type: 'boolean' })
  present!: boolean;

  @Column({ name: 'presence_clock', type: 'jsonb' })
  presenceClock!: StoredClock;

  @Column({ type: 'jsonb' })
  data!: Record<string, unknown>;

  @Column({ type: 'jsonb' })
  clocks!: Record<string, StoredClock>;

  @Column({ name: 'updated_offset', type: 'bigint', transformer: bigintString })
  updatedOffset!: string;
}
