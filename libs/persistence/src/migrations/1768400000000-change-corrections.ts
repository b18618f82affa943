import type { MigrationInterface, QueryRunner } from 'typeorm';

/*
 * Rows a rebuild corrected, so `/changes` followers learn of them. A row's change position is
 * normally its updated_offset (a function of the log alone); a rebuild that finds a row whose
 * content differs between the live tables and the rebuilt ones records it here at change_offset,
 * an offset of the partition no op can ever hold (an aborted Kafka record) and past every cursor
 * taken before the switch. The change stream emits the row's state now at that position. A row
 * that vanished has no row left to read: the stream sends it as deleted (with the model kept
 * here) or not visible.
 * Not projection tables: they carry no state of their own, and a later rebuild keeps them, so
 * followers resuming from an old cursor still get the corrections.
 */
export class ChangeCorrections1768400000000 implements MigrationInterface {
  name = 'ChangeCorrections1768400000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE record_corrections (
        library_id    uuid NOT NULL,
        record_id     uuid NOT NULL,
        change_offset bigint NOT NULL,
        model         text NOT NULL,
        PRIMARY KEY (library_id, record_id, change_offset)
      )`);
    await queryRunner.query(
      `CREATE INDEX record_corrections_by_offset ON record_corrections (library_id, change_offset)`,
    );
    await queryRunner.query(`
      CREATE TABLE relation_corrections (
        library_id    uuid NOT NULL,
        relation      text NOT NULL,
        item_id       uuid NOT NULL,
        group_id      uuid NOT NULL,
        change_offset bigint NOT NULL,
        PRIMARY KEY (library_id, relation, item_id, group_id, change_offset)
      )`);
    await queryRunner.query(
      `CREATE INDEX relation_corrections_by_offset ON relation_corrections (library_id, change_offset)`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE IF EXISTS relation_corrections`);
    await queryRunner.query(`DROP TABLE IF EXISTS record_corrections`);
  }
}
