/** Every error code the HTTP APIs answer with, and the status each maps to. */
export const ERROR_STATUS = {
  INVALID_JSON: 400,
  INVALID_LIBRARY_ID: 400,
  NOT_AN_ARRAY: 400,
  INVALID_PARAMETER: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NODE_MISMATCH: 403,
  NOT_FOUND: 404,
  /** The feed below the position asked for was compacted: bootstrap from the snapshot. */
  SNAPSHOT_REQUIRED: 410,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  VALIDATION_FAILED: 422,
  TIMESTAMP_DRIFT: 422,
  TOO_MANY_REQUESTS: 429,
  /** The ingest is at its bound of publish work in flight; nothing was accepted (Retry-After). */
  OVERLOADED: 429,
  INTERNAL_ERROR: 500,
  BROKER_UNAVAILABLE: 503,
  NOT_YET_APPLIED: 503,
  NOT_READY: 503,
  /** The query service is at its bound of database work or minOffset waiters (Retry-After). */
  SERVER_BUSY: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface ErrorBody {
  error: ErrorCode;
  message: string;
  details?: unknown[];
}
