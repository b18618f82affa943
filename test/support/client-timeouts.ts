import { INGEST_ANSWER_DEADLINES_MS } from '../../apps/ingest/src/answer-deadlines';
import { QUERY_ANSWER_DEADLINES_MS } from '../../apps/query/src/answer-deadlines';

/*
 * HTTP timeouts of the test clients: each route's answer deadline (the services' own bound, from
 * their default settings) plus a margin, so a client never gives up on a request the service is
 * still allowed to answer. Never a literal: a test that calls a legitimate slow answer "no
 * answer" flakes on a busy machine.
 */

/** What a client allows beyond the deadline (event loop delays of the test process itself). */
const CLIENT_MARGIN_MS = 5000;

/** POST /libraries/{id}/operations. */
export const INGEST_PUBLISH_CLIENT_TIMEOUT_MS =
  INGEST_ANSWER_DEADLINES_MS.publish + CLIENT_MARGIN_MS;
/** Any GET of the query service (minOffset waits included). */
export const QUERY_READ_CLIENT_TIMEOUT_MS = QUERY_ANSWER_DEADLINES_MS.read + CLIENT_MARGIN_MS;
/** /health/* of either service. */
export const HEALTH_CLIENT_TIMEOUT_MS =
  Math.max(INGEST_ANSWER_DEADLINES_MS.health, QUERY_ANSWER_DEADLINES_MS.health) + CLIENT_MARGIN_MS;
/** A SyncHttpTransport pushes and reads with one per-attempt timeout: the longer of both. */
export const TRANSPORT_CLIENT_TIMEOUT_MS = Math.max(
  INGEST_PUBLISH_CLIENT_TIMEOUT_MS,
  QUERY_READ_CLIENT_TIMEOUT_MS,
);
