import type { MigrationInterface, QueryRunner } from 'typeorm';

/*
 * A library's partition is murmur2(library id) mod the topic's partition count, and its order,
 * its offsets and read-your-writes hang on that partition. The count a topic had when the
 * services first used it with this database is recorded here; a service refuses to start when
 * the topic's count differs (docs/SCALING.md, Partition growth). One row per topic name.
 * replaced_by: the topic `cli repartition` copied this one into, set when the projection
 * switched to it (rebuild --from-topic); no service runs on a replaced topic any more.
 */
export class TopicPartitions1768300000000 implements MigrationInterface {
  name = 'TopicPartitions1768300000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE IF NOT EXISTS topic_partitions (
        topic       text PRIMARY KEY,
        partitions  int NOT NULL CHECK (partitions > 0),
        recorded_at timestamptz NOT NULL DEFAULT now(),
        replaced_by text
      )`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE IF EXISTS topic_partitions`);
  }
}
