/**
 * Allowance for the part of an answer no setting bounds by itself: API key lookup (a cache miss
 * reads Postgres, connect timeout 5 s), body parsing and validation, on a busy machine. Route
 * deadlines are the waits their settings bound plus this.
 */
export const HANDLING_ALLOWANCE_MS = 10_000;

/** Each readiness check gives up after this long. */
export const HEALTH_CHECK_TIMEOUT_MS = 2000;

/** /health/* answers within the checks' timeout (they run in parallel) plus the allowance. */
export const HEALTH_ANSWER_DEADLINE_MS = HEALTH_CHECK_TIMEOUT_MS + HANDLING_ALLOWANCE_MS;
