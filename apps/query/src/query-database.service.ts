import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { createPgPool, prepared } from '@sync/persistence';
import type { Pool, PoolClient, QueryResultRow } from 'pg';
import type { QueryConfig } from './query.config';
import { admitDatabaseWork, isPoolTimeout, serverBusy } from './query-overload';

/** Runs read statements: the pool, or one transaction's connection (QueryDatabase.inSnapshot). */
export interface SqlReader {
  query<T extends QueryResultRow>(sql: string, parameters?: unknown[]): Promise<T[]>;
}

/**
 * The read pool: plain pg, hand-written SQL (every read is a keyset or key lookup on a known
 * index). Connections open lazily, so a database that is down at start only makes the service
 * not ready, as when it goes down later. Under overload the pool's queue is bounded in length
 * (QUERY_DB_MAX_QUEUE) and in wait (QUERY_DB_QUEUE_TIMEOUT_MS), and every statement by
 * statement_timeout: work beyond is answered 503 SERVER_BUSY instead of waiting longer.
 */
@Injectable()
export class QueryDatabase implements SqlReader, OnApplicationShutdown {
  private readonly logger = new Logger('QueryDatabase');
  private readonly pool: Pool;
  private readonly limits: { poolSize: number; maxQueue: number };

  constructor(config: QueryConfig) {
    const { overload } = config;
    this.limits = { poolSize: config.poolSize, maxQueue: overload.maxDbQueue };
    this.pool = createPgPool({
      url: config.databaseUrl,
      poolSize: config.poolSize,
      applicationName: 'sync-query',
      onIdleError: (error) => this.logger.warn(`idle database connection failed: ${error.message}`),
      connectionTimeoutMs: overload.dbQueueTimeoutMs,
      statementTimeoutMs: overload.statementTimeoutMs,
    });
  }

  /**
   * Runs a statement as a named prepared statement (`prepared`): every statement text this
   * service sends is one of a bounded set of variants. Statements run in a snapshot
   * (inSnapshot) are prepared the same way.
   */
  async query<T extends QueryResultRow>(sql: string, parameters: unknown[] = []): Promise<T[]> {
    const statement = prepared(sql);
    const result = await this.admitted(() => this.pool.query<T>(statement, parameters));
    return result.rows;
  }

  /** A dedicated connection for multi-statement work (snapshots); release it when done. */
  connect(): Promise<PoolClient> {
    return this.admitted(() => this.pool.connect());
  }

  /** Runs `work` (which takes a pool connection) within the queue bounds, or 503 SERVER_BUSY. */
  private async admitted<T>(work: () => Promise<T>): Promise<T> {
    const admission = admitDatabaseWork(this.pool, this.limits);
    if (!admission.admitted) throw serverBusy('queued database work');
    try {
      return await work();
    } catch (error) {
      // Queued for a connection longer than the bound: busy. (Opening a connection that long
      // means the database is unreachable: that stays an error.)
      if (admission.queued && isPoolTimeout(error)) throw serverBusy('database wait');
      throw error;
    }
  }

  /**
   * Runs `work` in one REPEATABLE READ READ ONLY transaction, so all its statements see one
   * snapshot: the projector commits rows and the partition's next offset together, so what it
   * reads is the state through one offset.
   */
  async inSnapshot<T>(work: (reader: SqlReader) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const result = await work({
        query: async <R extends QueryResultRow>(sql: string, parameters: unknown[] = []) =>
          (await client.query<R>(prepared(sql), parameters)).rows,
      });
      await client.query('COMMIT');
      client.release();
      return result;
    } catch (error) {
      // A connection in an unknown state must not go back to the pool.
      client.release(true);
      throw error;
    }
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  async onApplicationShutdown(): Promise<void> {
    await this.pool.end();
  }
}
