import type { SqlClient } from '@sync/persistence';

export class LockNotGranted extends Error {
  readonly code = '55P03';
  constructor(timeoutMs: number) {
    super(`the live tables could not be locked within ${timeoutMs} ms`);
    this.name = 'LockNotGranted';
  }
}

const isLockFailure = (error: unknown) =>
  error instanceof LockNotGranted ||
  ['55P03', '40P01'].includes((error as { code?: string }).code ?? '');

/**
 * Locks `tables` (qualified names) in `mode` inside the caller's transaction, without ever being
 * the reason a reader fails. A reader statement locks the tables it reads one after another, so
 * one holding a table this still needs, while waiting for one this already holds, is a deadlock,
 * and Postgres would cancel whichever side checks first: possibly the reader. So: wait as long as
 * needed for the first table only (holding nothing, no cycle is possible; a projector batch locks
 * that table first, so this also waits for the batch in flight), and wait for each further one
 * only while the time since the first was granted stays under half of deadlock_timeout. Past
 * that, release everything (the reader then goes on, before its own deadlock check would fire)
 * and start over, until `timeoutMs` is spent.
 */
export async function lockLiveTables(
  client: SqlClient,
  tables: readonly string[],
  mode: 'ACCESS EXCLUSIVE' | 'SHARE',
  timeoutMs: number,
): Promise<void> {
  const { rows } = await client.query<{ ms: string }>(
    `SELECT setting AS ms FROM pg_settings WHERE name = 'deadlock_timeout'`,
  );
  const holdBudgetMs = Math.max(10, Math.floor(Number(rows[0]?.ms ?? 1000) / 2));
  const deadline = Date.now() + timeoutMs;
  const [first, ...rest] = tables;
  for (;;) {
    await client.query('SAVEPOINT lock_live_tables');
    try {
      await lockWithin(client, first, mode, deadline - Date.now(), timeoutMs);
      const grantedAt = Date.now();
      for (const table of rest) {
        const left = Math.min(grantedAt + holdBudgetMs, deadline) - Date.now();
        await lockWithin(client, table, mode, left, timeoutMs);
      }
      await client.query('RELEASE SAVEPOINT lock_live_tables');
      return;
    } catch (error) {
      if (!isLockFailure(error)) throw error;
      // Releases every lock taken since the savepoint.
      await client.query('ROLLBACK TO SAVEPOINT lock_live_tables');
      if (Date.now() >= deadline) throw new LockNotGranted(timeoutMs);
      await sleep(5 + Math.floor(Math.random() * 20));
    }
  }
}

async function lockWithin(
  client: SqlClient,
  table: string,
  mode: string,
  waitMs: number,
  timeoutMs: number,
): Promise<void> {
  if (waitMs < 1) throw new LockNotGranted(timeoutMs);
  await client.query(`SET LOCAL lock_timeout = ${Math.ceil(waitMs)}`);
  await client.query(`LOCK TABLE ${table} IN ${mode} MODE`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
