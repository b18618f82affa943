import type { KafkaConfig } from 'kafkajs';

/**
 * How a batch is made all or nothing (apps/ingest/README.md explains both, docs/BENCHMARKS.md
 * has the measurements that made `single-request` the service default):
 * - `single-request`: a batch that fits one record batch (maxRecordBatchBytes) is sent as ONE
 *   record batch in ONE produce request, which the broker appends as a unit. A larger batch
 *   goes in a transaction, like in `transactional` mode.
 * - `transactional`: every batch goes in a Kafka transaction; batches waiting for a free
 *   producer share the next one (group commit) and then succeed or fail together. A failed
 *   transaction is aborted or fenced, so read_committed consumers never see any of it.
 */
export type PublishMode = 'single-request' | 'transactional';

/** Just below the broker default max.message.bytes (1048588) of a topic. */
export const DEFAULT_MAX_RECORD_BATCH_BYTES = 1_000_000;
export const DEFAULT_PUBLISH_TIMEOUT_MS = 5_000;
/**
 * Longer than the broker's replica.lag.time.max.ms (30 s by default) plus a produce request's
 * acknowledgement wait: by then a batch appended by a partition leader is either committed or
 * truncated, because a dead or lagging replica has left the in-sync set or a new leader has been
 * elected.
 */
export const DEFAULT_PUBLISH_OUTCOME_TIMEOUT_MS = 40_000;
export const DEFAULT_TRANSACTION_TIMEOUT_MS = 15_000;
export const DEFAULT_PRODUCER_LANES = 4;

export interface OperationProducerOptions {
  /** kafkajs client settings, e.g. kafkaClientConfig(readKafkaSettings(env, 'my-app')). */
  client: KafkaConfig;
  topic: string;
  /** Default `single-request`. */
  mode?: PublishMode;
  /** Concurrent sends per kind, one kafkajs producer (connection, producer id) each. */
  producers?: number;
  /**
   * Transactional producer i uses `${prefix}-${i}`. Keep it stable per instance (e.g. the pod
   * name) so a restart fences and aborts what a crashed predecessor left open; it must differ
   * between instances running at the same time. Default: host name plus a random suffix.
   */
  transactionalIdPrefix?: string;
  /** Broker-side bound on an open transaction (read_committed readers wait at most this long). */
  transactionTimeoutMs?: number;
  /**
   * Bound on one publish, from waiting for a free producer to the broker's confirmation, as long
   * as the batch cannot have been stored yet: past it, such a publish fails with `timeout`.
   */
  publishTimeoutMs?: number;
  /**
   * Bound on learning the outcome of a publish once it may have been stored (its produce
   * request, or its transaction's commit, was written to a broker). Until then the producer
   * repeats the same request (same producer id and sequence, or the same EndTxn) until the
   * broker answers for good; past it, the publish fails with `unknown`. At least
   * publishTimeoutMs.
   */
  publishOutcomeTimeoutMs?: number;
  /** Largest record batch sent (must not exceed the topic's max.message.bytes). */
  maxRecordBatchBytes?: number;
  /** Called after each send (one produce request, or one transaction): metrics and tests. */
  onSend?: (send: SendInfo) => void;
}

export interface SendInfo {
  kind: SendKind;
  /** Publishes (batches) that went out together. */
  batches: number;
  messages: number;
  ok: boolean;
}

/** A single produce request (idempotent producer), or a transaction. */
export type SendKind = 'request' | 'transaction';

export interface PublishResult {
  topic: string;
  partition: number;
  count: number;
  /** Offset of the first op (decimal string). */
  firstOffset: string;
  /**
   * Offset of the last op. The ops are in request order in [firstOffset, lastOffset]; other
   * records can lie in between only when a batch went in a transaction that was split over
   * several record batches or shared with other batches of the same partition.
   */
  lastOffset: string;
  kind: SendKind;
}

/**
 * Why a publish failed. All but `unknown` mean the batch is not stored and never will be (for a
 * transaction: never committed). `unknown`: the batch may have reached a broker and its outcome
 * could not be learned within publishOutcomeTimeoutMs; the producer was cut off, so it is not
 * sent again, but what a broker already appended may still become visible.
 */
export type PublishFailureReason = 'unavailable' | 'timeout' | 'too-large' | 'closed' | 'unknown';

/** The batch was not accepted (see PublishFailureReason for what that says about its ops). */
export class PublishError extends Error {
  override name = 'PublishError';

  constructor(
    readonly reason: PublishFailureReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
