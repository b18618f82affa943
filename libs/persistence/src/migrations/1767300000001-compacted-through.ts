import type { MigrationInterface, QueryRunner } from 'typeorm';

/*
 * Time travel (`asOf`, CONTRACT.md section 8) rebuilds a state from the op log prefix. A
 * compacted op was dropped because a greater op superseded it, and that op may be anywhere up
 * to what the library held when the compaction looked. libraries.compacted_through records
 * that offset (raised by every compaction batch that drops ops): a state as of an offset at or
 * above it is still exact; below it the answer is 410 SNAPSHOT_REQUIRED. -1: nothing compacted.
 */
export class CompactedThrough1767300000001 implements MigrationInterface {
  name = 'CompactedThrough1767300000001';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE libraries ADD COLUMN IF NOT EXISTS compacted_through bigint NOT NULL DEFAULT -1`,
    );
    // Libraries compacted before this column existed: their horizon is all that is known.
    await queryRunner.query(
      `UPDATE libraries SET compacted_through = last_offset
        WHERE compacted_before > 0
          AND EXISTS (SELECT 1 FROM operations o
                       WHERE o.library_id = libraries.library_id AND o.operation IS NULL)`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE libraries DROP COLUMN IF EXISTS compacted_through`);
  }
}
