import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * records.compact_clocks: the row's field clocks as @sync/protocol's compact text (written by
 * the projector beside `clocks`, from the same state), so a snapshot asked for `clocks=compact`
 * prints it as it is instead of spelling every field's clock. NULL where the form cannot hold
 * the clocks, and in rows written before this migration: readers use `clocks` then.
 */
export class CompactClocks1768500000000 implements MigrationInterface {
  name = 'CompactClocks1768500000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE records ADD COLUMN IF NOT EXISTS compact_clocks text`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE records DROP COLUMN IF EXISTS compact_clocks`);
  }
}
