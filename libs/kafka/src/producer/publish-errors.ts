import { RecordTooLargeError } from './publish-plan';
import { PublishError } from './publish-types';

/** The publish deadline passed before anything that could store the batch was written. */
export class DeadlineExceeded extends Error {
  override name = 'DeadlineExceeded';
}

/** The outcome of a send that may have stored the batch could not be learned in time. */
export class OutcomeUnknown extends Error {
  override name = 'OutcomeUnknown';
}

/** Limits named in the messages of a PublishError. */
export interface PublishLimits {
  publishTimeoutMs: number;
  publishOutcomeTimeoutMs: number;
  maxRecordBatchBytes: number;
}

/** What a failed publish tells its caller (see PublishFailureReason). */
export function toPublishError(error: unknown, limits: PublishLimits): PublishError {
  if (error instanceof PublishError) return error;
  if (error instanceof DeadlineExceeded) {
    return new PublishError(
      'timeout',
      `Kafka did not confirm the batch within ${limits.publishTimeoutMs} ms`,
      { cause: error },
    );
  }
  if (error instanceof OutcomeUnknown) {
    return new PublishError(
      'unknown',
      `Kafka did not confirm or refuse the batch within ${limits.publishOutcomeTimeoutMs} ms after it was sent, so it may have been stored`,
      { cause: error },
    );
  }
  if (error instanceof RecordTooLargeError) {
    return new PublishError('too-large', error.message, { cause: error });
  }
  const tooLarge = errorTypes(error).some(
    (type) => type === 'MESSAGE_TOO_LARGE' || type === 'RECORD_LIST_TOO_LARGE',
  );
  if (tooLarge) {
    return new PublishError(
      'too-large',
      `the broker refused the batch as too large (is the topic's max.message.bytes below ${limits.maxRecordBatchBytes}?)`,
      { cause: error },
    );
  }
  return new PublishError('unavailable', `publishing failed: ${describeError(error)}`, {
    cause: error,
  });
}

/** The error and its causes, nearest first, at most five deep. */
function causeChain(error: unknown): Error[] {
  const chain: Error[] = [];
  for (let current = error; chain.length < 5 && current instanceof Error;) {
    chain.push(current);
    current = current.cause;
  }
  return chain;
}

/** kafkajs protocol error types along the cause chain. */
export function errorTypes(error: unknown): string[] {
  const types: string[] = [];
  for (const link of causeChain(error)) {
    const type = (link as { type?: unknown }).type;
    if (typeof type === 'string') types.push(type);
  }
  return types;
}

/** Whether `error` or one of its causes is a `type`. */
export function causedBy(error: unknown, type: abstract new (...args: never[]) => Error): boolean {
  return causeChain(error).some((link) => link instanceof type);
}

export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? error.cause.message : undefined;
  return cause !== undefined && cause !== error.message
    ? `${error.message} (${cause})`
    : error.message;
}
