import type { MigrationInterface, QueryRunner } from 'typeorm';

export class InitialSchema1764000000000 implements MigrationInterface {
  name = 'InitialSchema1764000000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE libraries (
        library_id   uuid PRIMARY KEY,
        partition    int NOT NULL,
        operations   bigint NOT NULL DEFAULT 0,
        rejected     bigint NOT NULL DEFAULT 0,
        first_offset bigint NOT NULL,
        last_offset  bigint NOT NULL,
        created_at   timestamptz NOT NULL DEFAULT now(),
        updated_at   timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(`
      CREATE TABLE records (
        library_id     uuid NOT NULL,
        record_id      uuid NOT NULL,
        model          text NOT NULL,
        owner          uuid,
        deleted        boolean NOT NULL DEFAULT false,
        data           jsonb NOT NULL DEFAULT '{}',
        clocks         jsonb NOT NULL DEFAULT '{}',
        updated_offset bigint NOT NULL,
        PRIMARY KEY (library_id, record_id)
      )`);
    // Keyset pages of visible records, with and without a model filter.
    await queryRunner.query(
      `CREATE INDEX records_visible_by_model ON records (library_id, model, record_id) WHERE NOT deleted`,
    );
    await queryRunner.query(
      `CREATE INDEX records_visible ON records (library_id, record_id) WHERE NOT deleted`,
    );
    await queryRunner.query(`
      CREATE TABLE relations (
        library_id     uuid NOT NULL,
        relation       text NOT NULL,
        item_id        uuid NOT NULL,
        group_id       uuid NOT NULL,
        present        boolean NOT NULL,
        presence_clock jsonb NOT NULL,
        data           jsonb NOT NULL DEFAULT '{}',
        clocks         jsonb NOT NULL DEFAULT '{}',
        updated_offset bigint NOT NULL,
        PRIMARY KEY (library_id, relation, item_id, group_id)
      )`);
    await queryRunner.query(`CREATE INDEX relations_by_item ON relations (library_id, item_id)`);
    await queryRunner.query(`CREATE INDEX relations_by_group ON relations (library_id, group_id)`);
    await queryRunner.query(`
      CREATE TABLE operations (
        library_id   uuid NOT NULL,
        log_offset   bigint NOT NULL,
        node         uuid NOT NULL,
        hybrid       numeric(20, 0) NOT NULL,
        content_hash text NOT NULL,
        operation    jsonb NOT NULL,
        PRIMARY KEY (library_id, log_offset),
        CONSTRAINT operations_identity UNIQUE (library_id, node, hybrid)
      )`);
    await queryRunner.query(`
      CREATE TABLE pending_operations (
        library_id uuid NOT NULL,
        log_offset bigint NOT NULL,
        record_id  uuid NOT NULL,
        operation  jsonb NOT NULL,
        PRIMARY KEY (library_id, log_offset)
      )`);
    await queryRunner.query(
      `CREATE INDEX pending_operations_by_record ON pending_operations (library_id, record_id)`,
    );
    await queryRunner.query(`
      CREATE TABLE rejected_operations (
        library_id  uuid NOT NULL,
        log_offset  bigint NOT NULL,
        operation   jsonb NOT NULL,
        reason      text NOT NULL,
        message     text NOT NULL,
        rejected_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (library_id, log_offset)
      )`);
    await queryRunner.query(`
      CREATE TABLE partition_offsets (
        topic       text NOT NULL,
        partition   int NOT NULL,
        next_offset bigint NOT NULL,
        updated_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (topic, partition)
      )`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of [
      'partition_offsets',
      'rejected_operations',
      'pending_operations',
      'operations',
      'relations',
      'records',
      'libraries',
    ]) {
      await queryRunner.query(`DROP TABLE IF EXISTS ${table}`);
    }
  }
}
