import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Op-log retention (docs/RETENTION.md):
 * - operations.operation becomes nullable: a compacted op keeps its row (node, hybrid and
 *   content_hash, which duplicate detection reads) but leaves the feed;
 * - libraries.compacted_before is the library's compaction horizon: ops below it may be gone
 *   from the feed. It lives in a projection table on purpose, so a rebuild from the topic
 *   (which restores the full history) resets it to 0 with everything else;
 * - node_positions records how far each node has pulled each library's feed. It is not a
 *   projection table: a rebuild keeps it.
 */
export class OpLogRetention1766100000000 implements MigrationInterface {
  name = 'OpLogRetention1766100000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE operations ALTER COLUMN operation DROP NOT NULL`);
    await queryRunner.query(
      `ALTER TABLE libraries ADD COLUMN IF NOT EXISTS compacted_before bigint NOT NULL DEFAULT 0`,
    );
    await queryRunner.query(`
      CREATE TABLE IF NOT EXISTS node_positions (
        library_id     uuid NOT NULL,
        node           uuid NOT NULL,
        pulled_through bigint NOT NULL,
        seen_at        timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (library_id, node)
      )`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    // Compacted ops cannot be restored here; dropping their rows would break duplicate detection.
    const compacted = (await queryRunner.query(
      `SELECT 1 FROM operations WHERE operation IS NULL LIMIT 1`,
    )) as unknown[];
    if (compacted.length > 0) {
      throw new Error(
        'compacted ops exist: rebuild the projection from the topic before reverting',
      );
    }
    await queryRunner.query(`ALTER TABLE operations ALTER COLUMN operation SET NOT NULL`);
    await queryRunner.query(`DROP TABLE IF EXISTS node_positions`);
    await queryRunner.query(`ALTER TABLE libraries DROP COLUMN IF EXISTS compacted_before`);
  }
}
