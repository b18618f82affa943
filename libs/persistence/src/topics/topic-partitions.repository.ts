import type { SqlClient } from '../projection/sql-client';

/** The partition count a topic was first used with (migration 1768300000000-topic-partitions). */
export class TopicPartitionsRepository {
  constructor(private readonly sql: SqlClient) {}

  /**
   * Records `partitions` for `topic` unless a count is recorded already; returns the recorded
   * count (the first one wins when services start together).
   */
  async recordFirst(topic: string, partitions: number): Promise<number> {
    const { rows } = await this.sql.query<{ partitions: number }>(
      `WITH inserted AS (
         INSERT INTO topic_partitions (topic, partitions) VALUES ($1, $2)
         ON CONFLICT (topic) DO NOTHING
         RETURNING partitions
       )
       SELECT partitions FROM inserted
       UNION ALL SELECT partitions FROM topic_partitions WHERE topic = $1
       LIMIT 1`,
      [topic, partitions],
    );
    return rows[0].partitions;
  }

  /** The recorded count, or undefined when no service has used the topic with this database. */
  async recorded(topic: string): Promise<number | undefined> {
    const { rows } = await this.sql.query<{ partitions: number }>(
      `SELECT partitions FROM topic_partitions WHERE topic = $1`,
      [topic],
    );
    return rows[0]?.partitions;
  }
}
