import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The query service's live change stream (GET /libraries/{id}/changes) reads the rows of a
 * library changed after an offset, ordered by updated_offset; without these it would scan the
 * whole library on every applied batch of its partition.
 */
export class ChangeStreamIndexes1765000000000 implements MigrationInterface {
  name = 'ChangeStreamIndexes1765000000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE INDEX IF NOT EXISTS records_by_updated_offset ON records (library_id, updated_offset)`,
    );
    await queryRunner.query(
      `CREATE INDEX IF NOT EXISTS relations_by_updated_offset ON relations (library_id, updated_offset)`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX IF EXISTS relations_by_updated_offset`);
    await queryRunner.query(`DROP INDEX IF EXISTS records_by_updated_offset`);
  }
}
