import { HANDLING_ALLOWANCE_MS, HEALTH_ANSWER_DEADLINE_MS } from '@sync/platform';
import { DEFAULT_QUERY_OVERLOAD, type QueryOverloadSettings } from './query.config';
import { MAX_WAIT_MS } from './query-params';

/** Longest time, per route, from a received request to the query service's answer (ms). */
export interface QueryAnswerDeadlines {
  /**
   * Every GET under /libraries (for /snapshot and /changes: to the first line; a stream then
   * lasts as long as its data or its reader).
   */
  read: number;
  /** GET /health/live, /health/ready */
  health: number;
}

/**
 * Statements a read runs at most before it answers: the library's partition, the final look
 * at the applied offset of a minOffset wait, the page (or the status counts and the partition's
 * offset), the node position of a feed read.
 */
export const READ_STATEMENTS = 4;

/**
 * A read waits for its minOffset at most `waitMs` (at most MAX_WAIT_MS); each statement waits
 * for a connection at most the queue timeout and runs at most the statement timeout.
 */
export function queryAnswerDeadlines(
  overload: Pick<QueryOverloadSettings, 'dbQueueTimeoutMs' | 'statementTimeoutMs'>,
): QueryAnswerDeadlines {
  const statement = overload.dbQueueTimeoutMs + overload.statementTimeoutMs;
  return {
    read: MAX_WAIT_MS + READ_STATEMENTS * statement + HANDLING_ALLOWANCE_MS,
    health: HEALTH_ANSWER_DEADLINE_MS,
  };
}

export const QUERY_ANSWER_DEADLINES_MS = queryAnswerDeadlines(DEFAULT_QUERY_OVERLOAD);
