import { APPLIED_CHANNEL } from '../data-source';
import { escapeLiteral, type QueryResult, type QueryResultRow } from 'pg';
import { type SqlClient, lastRows, quoteIdent } from './sql-client';

/**
 * The one read of a partition's applied position (next offset to apply): $1 topic, $2 partition.
 * Readers outside a transaction (the query service) run it as is.
 */
export const STORED_OFFSET_SQL = `SELECT next_offset FROM partition_offsets WHERE topic = $1 AND partition = $2`;

/** Every partition's applied position of topic $1, in `schema` (default: the search path's). */
export function storedOffsetsSql(schema?: string): string {
  const table =
    schema === undefined ? 'partition_offsets' : `${quoteIdent(schema)}.partition_offsets`;
  return `SELECT partition, next_offset FROM ${table} WHERE topic = $1`;
}

/**
 * The applied position of each partition (next offset to apply). Written in the same transaction
 * as the effects of the messages before it: this row is what makes application exactly-once.
 */
export class PartitionOffsetsRepository {
  /** Stored next offset without locking, or null when the partition was never applied here. */
  async read(client: SqlClient, topic: string, partition: number): Promise<bigint | null> {
    const { rows } = await client.query<{ next_offset: string }>(STORED_OFFSET_SQL, [
      topic,
      partition,
    ]);
    return rows.length === 0 ? null : BigInt(rows[0].next_offset);
  }

  /**
   * Simple-protocol statements (for TransactionEnds.opening) that lock the partition's row until
   * the transaction ends, creating it at 0 if missing; the last one returns its next offset
   * (`lockedOffset`). A second projector working the same partition (stale assignment after a
   * rebalance) waits here and then sees the advanced offset, so it applies nothing twice.
   */
  lockStatements(topic: string, partition: number): string {
    const key = `topic = ${escapeLiteral(topic)} AND partition = ${integer(partition)}`;
    return (
      `INSERT INTO partition_offsets (topic, partition, next_offset) ` +
      `VALUES (${escapeLiteral(topic)}, ${integer(partition)}, 0) ` +
      `ON CONFLICT (topic, partition) DO NOTHING; ` +
      `SELECT next_offset FROM partition_offsets WHERE ${key} FOR UPDATE`
    );
  }

  /** The next offset in the rows of `lockStatements`' last statement. */
  lockedOffset(rows: readonly QueryResultRow[]): bigint {
    return BigInt((rows[0] as { next_offset: string }).next_offset);
  }

  /** Runs `lockStatements` on its own, in the transaction `client` holds open. */
  async lock(client: SqlClient, topic: string, partition: number): Promise<bigint> {
    const answer = (await client.query(this.lockStatements(topic, partition))) as
      QueryResult | QueryResult[];
    return this.lockedOffset(lastRows(answer));
  }

  /**
   * A simple-protocol statement (for TransactionEnds.closing) that moves the (locked) row to
   * `nextOffset` and notifies APPLIED_CHANNEL on commit.
   */
  advanceStatement(topic: string, partition: number, nextOffset: bigint): string {
    const next = nextOffset.toString(10);
    const key = `topic = ${escapeLiteral(topic)} AND partition = ${integer(partition)}`;
    return (
      `WITH moved AS (UPDATE partition_offsets SET next_offset = ${next}, updated_at = now() ` +
      `WHERE ${key}) ` +
      `SELECT pg_notify(${escapeLiteral(APPLIED_CHANNEL)}, ${escapeLiteral(`${topic}:${partition}:${next}`)})`
    );
  }

  /** Runs `advanceStatement` on its own, in the transaction `client` holds open. */
  async advance(
    client: SqlClient,
    topic: string,
    partition: number,
    nextOffset: bigint,
  ): Promise<void> {
    await client.query(this.advanceStatement(topic, partition, nextOffset));
  }

  /**
   * Moves past a fetched range that held no op at all (only transaction markers or aborted
   * messages, which the consumer filters out): only when the position lies inside that range, so
   * nothing unapplied is ever skipped. Returns whether the position moved.
   */
  async passEmptyRange(
    client: SqlClient,
    topic: string,
    partition: number,
    firstOffset: bigint,
    lastOffset: bigint,
  ): Promise<boolean> {
    const { rows } = await client.query(
      `WITH moved AS (
         UPDATE partition_offsets SET next_offset = $4::bigint + 1, updated_at = now()
          WHERE topic = $1 AND partition = $2 AND next_offset BETWEEN $3 AND $4
          RETURNING next_offset
       )
       SELECT pg_notify($5, $1 || ':' || $2 || ':' || next_offset) FROM moved`,
      [topic, partition, firstOffset.toString(10), lastOffset.toString(10), APPLIED_CHANNEL],
    );
    return rows.length > 0;
  }
}

/** A partition number as SQL text: an integer, never anything else. */
function integer(value: number): string {
  if (!Number.isSafeInteger(value)) throw new RangeError(`not an integer: ${value}`);
  return String(value);
}
