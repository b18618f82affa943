import { SyncError } from '@sync/platform';

/** What the read pool says about itself (pg's Pool counters). */
export interface PoolState {
  /** Connections open, busy or idle. */
  totalCount: number;
  idleCount: number;
  /** Requests queued for a connection. */
  waitingCount: number;
}

export type PoolAdmission =
  | { admitted: true; /** It will wait in the pool's queue. */ queued: boolean }
  | { admitted: false };

/**
 * Database work of one statement: run it now when a connection is idle or can still be opened,
 * queue it behind at most `maxQueue` others, else refuse it (the caller answers 503 at once
 * rather than adding to a queue whose wait would pass the route's deadline).
 */
export function admitDatabaseWork(
  pool: PoolState,
  limits: { poolSize: number; maxQueue: number },
): PoolAdmission {
  const free = pool.idleCount > 0 || pool.totalCount < limits.poolSize;
  if (free && pool.waitingCount === 0) return { admitted: true, queued: false };
  if (pool.waitingCount >= limits.maxQueue) return { admitted: false };
  return { admitted: true, queued: true };
}

/** A read waiting for its minOffset: admitted while fewer than `maxWaiters` wait. */
export function admitWaiter(waiting: number, maxWaiters: number): boolean {
  return waiting < maxWaiters;
}

/** pg-pool's error when a queued request (or a new connection) passed connectionTimeoutMillis. */
export function isPoolTimeout(error: unknown): boolean {
  return error instanceof Error && error.message === 'timeout exceeded when trying to connect';
}

/** 503 SERVER_BUSY: the instance is at one of its bounds; retrying shortly is expected to work. */
export function serverBusy(what: string): SyncError {
  return new SyncError(
    'SERVER_BUSY',
    `the query service is at its bound of ${what}; retry after 1 s`,
    undefined,
    { 'Retry-After': '1' },
  );
}
