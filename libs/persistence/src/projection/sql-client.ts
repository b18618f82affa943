import { Pool, type PoolClient, type QueryResult, type QueryResultRow } from 'pg';

/** A Postgres identifier (schema, table) quoted for interpolation into SQL text. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A statement with a name: see `prepared`. */
export interface PreparedStatement {
  name: string;
  text: string;
  values: unknown[];
}

/** The part of a pg client the projection repositories use (a PoolClient inside a transaction). */
export interface SqlClient {
  query<R extends QueryResultRow = QueryResultRow>(
    statement: string | PreparedStatement,
    values?: unknown[],
  ): Promise<{ rows: R[]; rowCount: number | null }>;
}

const statementNames = new Map<string, string>();

/**
 * `text` as a named prepared statement: Postgres parses and plans it once per connection instead
 * of on every call (pg sends Parse only the first time a connection sees the name). Only for
 * statements whose text is one of a fixed set (values travel as parameters; table and schema
 * names are fixed at start), so the names a process creates stay bounded. A change of
 * search_path makes Postgres plan a prepared statement again, so one text serves any schema.
 * Where the tables a statement reads may be empty when it is first run, see `customPlans`.
 */
export function prepared(text: string, values: unknown[] = []): PreparedStatement {
  let name = statementNames.get(text);
  if (name === undefined) {
    name = `sync_${statementNames.size + 1}`;
    statementNames.set(text, name);
  }
  return { name, text, values };
}

export interface PgPoolSettings {
  url: string;
  poolSize: number;
  applicationName: string;
  /** Called when an idle pooled connection breaks (server restart); without it node would exit. */
  onIdleError?: (error: Error) => void;
  /** Bound on getting a connection: queued for one, or opening one (default 5000). */
  connectionTimeoutMs?: number;
  /** Postgres statement_timeout of every connection (default: none). */
  statementTimeoutMs?: number;
  /**
   * Plan every execution of a prepared statement for its parameters (plan_cache_mode
   * force_custom_plan): for statements over tables that grow from empty while the connection
   * lives, where a generic plan made early stays a sequential scan until the next analyze.
   */
  customPlans?: boolean;
}

/** The connection option behind PgPoolSettings.customPlans. */
export const CUSTOM_PLANS_OPTION = '-c plan_cache_mode=force_custom_plan';

/**
 * A plain pg pool for hand-written set-based SQL (the projector): plain pg results, and connections
 * opened lazily, so a database that is down at start is handled like one that goes down later.
 */
export function createPgPool(settings: PgPoolSettings): Pool {
  const pool = new Pool({
    connectionString: settings.url,
    max: settings.poolSize,
    application_name: settings.applicationName,
    connectionTimeoutMillis: settings.connectionTimeoutMs ?? 5000,
    idleTimeoutMillis: 30_000,
    ...(settings.statementTimeoutMs ? { statement_timeout: settings.statementTimeoutMs } : {}),
    ...(settings.customPlans ? { options: CUSTOM_PLANS_OPTION } : {}),
  });
  pool.on('error', (error) => settings.onIdleError?.(error));
  return pool;
}

/** The rows of the last statement of a simple query that may hold several (pg then answers a list). */
export function lastRows(
  answer: QueryResult<QueryResultRow> | QueryResult<QueryResultRow>[],
): QueryResultRow[] {
  return Array.isArray(answer) ? answer[answer.length - 1].rows : answer.rows;
}

/**
 * Statements that travel with a transaction's BEGIN and COMMIT: each round trip to Postgres
 * costs both sides a socket write and a wake-up, which at small batches is most of the work.
 * Simple-protocol SQL, so values must be literals (pg's escapeLiteral, digits).
 */
export interface TransactionEnds<T> {
  /** Sent right after BEGIN in one query; `work` gets the rows of its last statement. */
  opening?: string;
  /**
   * Given the work's result and the rows `opening` returned, what to send right before COMMIT
   * in one query (or nothing).
   */
  closing?: (result: T, opened: QueryResultRow[]) => string | undefined;
}

/**
 * Runs `work` in one transaction on a pooled connection. Commits when it resolves, rolls back when
 * it throws; a connection that failed is destroyed instead of going back to the pool.
 */
export async function inTransaction<T>(
  pool: Pool,
  work: (client: PoolClient, opened: QueryResultRow[]) => Promise<T>,
  ends: TransactionEnds<T> = {},
): Promise<T> {
  const client = await pool.connect();
  let failure: Error | undefined;
  // A checked-out connection that breaks between queries emits 'error'; unheard, node would exit.
  // The next query on it fails and takes the rollback path below.
  const onError = (error: Error) => {
    failure ??= error;
  };
  client.on('error', onError);
  try {
    const opened: QueryResult<QueryResultRow> | QueryResult<QueryResultRow>[] = await client.query(
      ends.opening === undefined ? 'BEGIN' : `BEGIN; ${ends.opening}`,
    );
    const openedRows = lastRows(opened);
    const result = await work(client, openedRows);
    const closing = ends.closing?.(result, openedRows);
    await client.query(closing === undefined ? 'COMMIT' : `${closing}; COMMIT`);
    return result;
  } catch (error) {
    failure = error instanceof Error ? error : new Error(String(error));
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.off('error', onError);
    // Passing the error makes pg-pool discard the connection: after a failure it may be dead.
    client.release(failure);
  }
}
