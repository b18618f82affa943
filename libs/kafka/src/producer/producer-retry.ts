import type { RetryOptions } from 'kafkajs';

/**
 * Retries of a send: a short first backoff, because a transactional producer's next
 * AddPartitionsToTxn answers CONCURRENT_TRANSACTIONS until the previous commit's markers are
 * written (a few ms), and kafkajs' default 300 ms first retry would cap a producer at a few
 * transactions per second; and only as many retries as fit in the publish timeout, since a
 * publish is abandoned at its deadline anyway.
 */
export function producerRetry(publishTimeoutMs: number): RetryOptions {
  const initialRetryTime = 2;
  const maxRetryTime = 1000;
  let retries = 0;
  for (let waited = 0, next = initialRetryTime; waited < publishTimeoutMs; retries++) {
    waited += next;
    next = Math.min(next * 2, maxRetryTime);
  }
  return { initialRetryTime, maxRetryTime, retries };
}
