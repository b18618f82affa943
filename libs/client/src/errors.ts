import type { RejectionReason, ValidationIssue } from './protocol';

/** Base class of every error the client throws on purpose. */
export class SyncClientError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** One entry of a contract error's `details`, e.g. `{index: 0, path: "data.name", message}`. */
export type ApiErrorDetail = Record<string, unknown>;

/**
 * The server answered with a contract error body `{error, message, details?}` (contract section
 * 7), e.g. 422 VALIDATION_FAILED or TIMESTAMP_DRIFT. `retryable` errors (429, 5xx) were already retried
 * by the transport before this was thrown.
 */
export class SyncApiError extends SyncClientError {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: ApiErrorDetail[] = [],
    readonly attempts = 1,
  ) {
    super(`${status} ${code}: ${message}`);
  }

  get retryable(): boolean {
    return isRetryableStatus(this.status);
  }
}

/** No HTTP answer (connection refused or reset, DNS, timeout), after every retry. */
export class SyncNetworkError extends SyncClientError {
  constructor(
    message: string,
    readonly attempts: number,
    cause?: unknown,
  ) {
    super(message, { cause });
  }
}

/** The server answered, but not in the contract's shape (wrong status, body or feed order). */
export class SyncProtocolError extends SyncClientError {}

/** An op built locally does not pass validateOperation against the node's schema. */
export class LocalValidationError extends SyncClientError {
  constructor(readonly issues: (ValidationIssue & { index: number })[]) {
    super(`invalid operation: ${issues.map((i) => `${i.path || '(op)'} ${i.message}`).join('; ')}`);
  }
}

/**
 * The merge engine would reject the op given what this node knows (e.g. NOT_OWNER for another
 * node's Location, MODEL_MISMATCH for a record of another model). Nothing was queued.
 */
export class LocalRejectionError extends SyncClientError {
  constructor(readonly rejections: { reason: RejectionReason; message: string }[]) {
    super(rejections.map((r) => `${r.reason}: ${r.message}`).join('; '));
  }

  get reason(): RejectionReason {
    return this.rejections[0].reason;
  }
}

/**
 * 5xx answers are worth retrying, and so is 429 (OVERLOADED, TOO_MANY_REQUESTS: come back after
 * Retry-After); other 4xx ones will fail the same way again.
 */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 500 || status === 502 || status === 503 || status === 504;
}
