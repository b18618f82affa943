import { HANDLING_ALLOWANCE_MS, HEALTH_ANSWER_DEADLINE_MS } from '@sync/platform';
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
 * A read waits for its minOffset at most `waitMs` (at most MAX_WAIT_MS); the allowance covers
 * its statements.
 */
export function queryAnswerDeadlines(): QueryAnswerDeadlines {
  return { read: MAX_WAIT_MS + HANDLING_ALLOWANCE_MS, health: HEALTH_ANSWER_DEADLINE_MS };
}

export const QUERY_ANSWER_DEADLINES_MS = queryAnswerDeadlines();
