import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { createPgPool } from '@sync/persistence';
import type { Pool, QueryResultRow } from 'pg';
import type { QueryConfig } from './query.config';
import { isPoolTimeout, serverBusy } from './query-overload';
import { QUERY_CONFIG } from './query.tokens';

/** Connections to the primary: few statements go there, and none may hold a read for long. */
const PRIMARY_POOL_SIZE = 2;
const PRIMARY_TIMEOUT_MS = 2000;

/**
 * The projector's database (DATABASE_URL) for what must not go to the read database, which may
 * be a read-only standby: the query service's writes (node feed positions; API keys have their
 * own store on the same URL) and the primary's side of the replica lag. A small pool, opened on
 * first use, with short connection and statement timeouts.
 */
@Injectable()
export class PrimaryDatabase implements OnApplicationShutdown {
  private readonly logger = new Logger('PrimaryDatabase');
  private pool?: Pool;

  constructor(@Inject(QUERY_CONFIG) private readonly config: QueryConfig) {}

  async query<T extends QueryResultRow>(sql: string, parameters: unknown[] = []): Promise<T[]> {
    this.pool ??= createPgPool({
      url: this.config.primaryDatabaseUrl,
      poolSize: PRIMARY_POOL_SIZE,
      applicationName: 'sync-query-primary',
      onIdleError: (error) => this.logger.warn(`idle primary connection failed: ${error.message}`),
      connectionTimeoutMs: PRIMARY_TIMEOUT_MS,
      statementTimeoutMs: PRIMARY_TIMEOUT_MS,
    });
    const queued = this.pool.idleCount === 0 && this.pool.totalCount >= PRIMARY_POOL_SIZE;
    try {
      return (await this.pool.query<T>(sql, parameters)).rows;
    } catch (error) {
      // Waited that long behind the other statements: busy, as for the read pool.
      if (queued && isPoolTimeout(error)) throw serverBusy('primary database work');
      throw error;
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.pool?.end();
  }
}
