import { DEFAULT_PUBLISH_OUTCOME_TIMEOUT_MS } from '@sync/kafka';
import { HANDLING_ALLOWANCE_MS, HEALTH_ANSWER_DEADLINE_MS } from '@sync/platform';
import type { PublishSettings } from './ingest.config';

/** Longest time, per route, from a received request to the ingest's answer (milliseconds). */
export interface IngestAnswerDeadlines {
  /** POST /libraries/{id}/operations */
  publish: number;
  /** GET /clock */
  clock: number;
  /** GET /health/live, /health/ready */
  health: number;
}

/**
 * A publish is answered by its outcome deadline at the latest (counted from the start of the
 * publish, waiting for a free producer included); admission control answers at once instead of
 * queueing. The allowance covers the rest: API key lookup, body parsing, validation.
 */
export function ingestAnswerDeadlines(
  publish: Pick<PublishSettings, 'outcomeTimeoutMs'>,
): IngestAnswerDeadlines {
  return {
    publish: publish.outcomeTimeoutMs + HANDLING_ALLOWANCE_MS,
    clock: HANDLING_ALLOWANCE_MS,
    health: HEALTH_ANSWER_DEADLINE_MS,
  };
}

/** The deadlines with the default settings. */
export const INGEST_ANSWER_DEADLINES_MS = ingestAnswerDeadlines({
  outcomeTimeoutMs: DEFAULT_PUBLISH_OUTCOME_TIMEOUT_MS,
});
