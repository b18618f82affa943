import type { MigrationInterface, QueryRunner } from 'typeorm';

/*
 * The log as data (CONTRACT.md section 8): a record's or a relation key's ops, accepted and
 * rejected, are read by key and offset (history, and time travel, which merges the ops of a few
 * keys up to an offset). These expression indexes make that an index range scan instead of a
 * scan of the library's log. The key expressions must stay identical to
 * apps/query/src/op-log-keys.sql.ts (the planner matches them); compacted ops (operation NULL)
 * are left out, having no body to show.
 */
const RECORD_KEY = `(operation->>'recordId')`;
const RELATION_KEY = `((operation->>'relation') || '|' || (operation->>'relationItem') || '|' || (operation->>'relationGroup'))`;

export class OpLogHistoryIndexes1767300000000 implements MigrationInterface {
  name = 'OpLogHistoryIndexes1767300000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    for (const table of ['operations', 'rejected_operations']) {
      await queryRunner.query(
        `CREATE INDEX IF NOT EXISTS ${table}_by_record
           ON ${table} (library_id, ${RECORD_KEY}, log_offset) WHERE ${RECORD_KEY} IS NOT NULL`,
      );
      await queryRunner.query(
        `CREATE INDEX IF NOT EXISTS ${table}_by_relation
           ON ${table} (library_id, ${RELATION_KEY}, log_offset) WHERE ${RELATION_KEY} IS NOT NULL`,
      );
    }
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of ['operations', 'rejected_operations']) {
      await queryRunner.query(`DROP INDEX IF EXISTS ${table}_by_relation`);
      await queryRunner.query(`DROP INDEX IF EXISTS ${table}_by_record`);
    }
  }
}
