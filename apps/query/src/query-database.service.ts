import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { createPgPool } from '@sync/persistence';
import type { Pool, PoolClient, QueryResultRow } from 'pg';
import type { QueryConfig } from './query.config';

/**
 * The read pool: plain pg, hand-written SQL (every read is a keyset or key lookup on a known
 * index). Connections open lazily, so a database that is down at start only makes the service
 * not ready, as when it goes down later.
 */
@Injectable()
export class QueryDatabase implements OnApplicationShutdown {
  private readonly logger = new Logger('QueryDatabase');
  private readonly pool: Pool;
  private readonly statementNames = new Map<string, string>();

  constructor(config: QueryConfig) {
    this.pool = createPgPool({
      url: config.databaseUrl,
      poolSize: config.poolSize,
      applicationName: 'sync-query',
      onIdleError: (error) => this.logger.warn(`idle database connection failed: ${error.message}`),
    });
  }

  /**
   * Runs a statement as a named prepared statement: Postgres parses and plans it once per
   * connection. Every statement text this service sends is one of a bounded set of variants
   * (parameters carry all values; schema names are fixed at start), so the names are bounded.
   */
  async query<T extends QueryResultRow>(sql: string, parameters: unknown[] = []): Promise<T[]> {
    let name = this.statementNames.get(sql);
    if (name === undefined) {
      name = `query_${this.statementNames.size + 1}`;
      this.statementNames.set(sql, name);
    }
    const result = await this.pool.query<T>({ name, text: sql, values: parameters });
    return result.rows;
  }

  /** A dedicated connection for multi-statement work (snapshots); release it when done. */
  connect(): Promise<PoolClient> {
    return this.pool.connect();
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  async onApplicationShutdown(): Promise<void> {
    await this.pool.end();
  }
}
