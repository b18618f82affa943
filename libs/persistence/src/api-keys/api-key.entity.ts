import { Column, Entity, PrimaryColumn } from 'typeorm';

/** One API key; the secret itself is never stored, only its SHA-256. */
@Entity({ name: 'api_keys' })
export class ApiKeyEntity {
  @PrimaryColumn({ name: 'key_id', type: 'text' })
  keyId!: string;

  @Column({ name: 'secret_hash', type: 'bytea' })
  secretHash!: Buffer;

  /** null: every library. */
  @Column({ name: 'library_id', type: 'uuid', nullable: true })
  libraryId!: string | null;

  @Column({ type: 'text', array: true })
  roles!: string[];

  @Column({ type: 'uuid', nullable: true })
  node!: string | null;

  @Column({ type: 'text', nullable: true })
  label!: string | null;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt!: Date | null;
}
