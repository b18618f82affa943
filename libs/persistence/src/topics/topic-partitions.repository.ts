import type { SqlClient } from '../projection/sql-client';

/** What is recorded for a topic (migration 1768300000000-topic-partitions). */
export interface TopicRecord {
  partitions: number;
  /** The topic the projection switched to from this one (cli repartition), if it did. */
  replacedBy: string | null;
}

interface TopicRow {
  partitions: number;
  replaced_by: string | null;
}

/** The partition count a topic was first used with, and whether it was replaced since. */
export class TopicPartitionsRepository {
  constructor(private readonly sql: SqlClient) {}

  /**
   * Records `partitions` for `topic` unless it is recorded already; returns the record (the
   * first count wins when services start together).
   */
  async recordFirst(topic: string, partitions: number): Promise<TopicRecord> {
    const { rows } = await this.sql.query<TopicRow>(
      `WITH inserted AS (
         INSERT INTO topic_partitions (topic, partitions) VALUES ($1, $2)
         ON CONFLICT (topic) DO NOTHING
         RETURNING partitions, replaced_by
       )
       SELECT partitions, replaced_by FROM inserted
       UNION ALL SELECT partitions, replaced_by FROM topic_partitions WHERE topic = $1
       LIMIT 1`,
      [topic, partitions],
    );
    return { partitions: rows[0].partitions, replacedBy: rows[0].replaced_by };
  }

  /** The record, or undefined when no service has used the topic with this database. */
  async recorded(topic: string): Promise<TopicRecord | undefined> {
    const { rows } = await this.sql.query<TopicRow>(
      `SELECT partitions, replaced_by FROM topic_partitions WHERE topic = $1`,
      [topic],
    );
    return rows[0] && { partitions: rows[0].partitions, replacedBy: rows[0].replaced_by };
  }

  /**
   * The projection follows `replacement` from now on (the rebuild's switch, in its transaction):
   * `topic` (with `partitions`, if no service recorded it yet) is marked replaced, so no
   * service starts on it again.
   */
  async markReplaced(topic: string, partitions: number, replacement: string): Promise<void> {
    await this.sql.query(
      `INSERT INTO topic_partitions (topic, partitions, replaced_by) VALUES ($1, $2, $3)
       ON CONFLICT (topic) DO UPDATE SET replaced_by = EXCLUDED.replaced_by`,
      [topic, partitions, replacement],
    );
  }
}
