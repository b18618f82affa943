import type { ConsumerConfig } from 'kafkajs';

export interface BatchConsumerSettings {
  groupId: string;
  sessionTimeoutMs: number;
  /** Upper bound of one partition's fetch, hence of one batch transaction. */
  maxBatchBytes: number;
  /** Partitions applied in parallel. */
  concurrency: number;
  maxWaitTimeInMs: number;
}

/**
 * The kafkajs consumer settings of every consumer that applies batches to Postgres (the live
 * projector and the rebuild's replay): read_committed, so aborted transactions never apply, and
 * fetches sized so one partition's fetch is one batch transaction.
 */
export function batchConsumerConfig(settings: BatchConsumerSettings): ConsumerConfig {
  return {
    groupId: settings.groupId,
    readUncommitted: false,
    allowAutoTopicCreation: false,
    sessionTimeout: settings.sessionTimeoutMs,
    heartbeatInterval: Math.min(3000, Math.floor(settings.sessionTimeoutMs / 3)),
    rebalanceTimeout: Math.max(60_000, settings.sessionTimeoutMs),
    maxBytesPerPartition: settings.maxBatchBytes,
    maxBytes: Math.max(settings.maxBatchBytes * settings.concurrency, 10 * 1024 * 1024),
    maxWaitTimeInMs: settings.maxWaitTimeInMs,
  };
}

/** The live projector's consumer: never gives up; short fetch waits keep apply latency low. */
export const LIVE_BATCH_CONSUMER = { live: true, maxWaitTimeInMs: 500 } as const;

/**
 * A rebuild's replay: shorter fetch waits (it catches up to a moving target), and it gives up
 * after 8 failed batches in a row of one partition, backing off 0.5 s doubling to 10 s between.
 */
export const REPLAY_BATCH_CONSUMER = {
  live: false,
  maxWaitTimeInMs: 200,
  maxFailures: 8,
  retryInitialMs: 500,
  retryMaxMs: 10_000,
} as const;
