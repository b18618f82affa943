import type { Kafka, Message, Producer } from 'kafkajs';
import type { RequestTap } from './publish-outcome';
import { RECORD_BATCH_OVERHEAD, groupInOrder } from './publish-plan';
import type { PublishError, PublishResult, SendKind } from './publish-types';

/**
 * One kafkajs message: the key encoded once per publish (the partitioner hashes a run of
 * messages with the same key buffer once), the value as text, which kafkajs writes straight
 * into the request (a buffer per op would be one more allocation and copy).
 */
export type EncodedMessage = Message & { key: Buffer; value: string };

export interface Pending {
  messages: EncodedMessage[];
  bytes: number;
  /** Date.now() when it was queued. */
  queuedAt: number;
  deadline: number;
  timer: NodeJS.Timeout | undefined;
  resolve(result: PublishResult): void;
  reject(error: PublishError): void;
}

/** One producer slot: the producer in use, replaced whenever it fails. */
export class Lane {
  producer: Producer | null = null;
  /** Connected (and, for transactions, holding a producer id) producer, once ready. */
  ready: Promise<Producer> | null = null;
  /** What the current producer wrote; closing it cuts the producer off the network. */
  tap: RequestTap | null = null;
  /** The client of the current producer (a commit is repeated through it). */
  kafka: Kafka | null = null;
  recovering = false;

  constructor(
    readonly kind: SendKind,
    readonly transactionalId: string | undefined,
  ) {}
}

/** Lanes of one kind with their queue of waiting publishes. */
export class LanePool {
  readonly idle: Lane[];
  readonly queue: Pending[] = [];
  /** Set while small publishes wait to be gathered (see gatherWait). */
  gatherTimer: NodeJS.Timeout | undefined;

  constructor(readonly lanes: Lane[]) {
    this.idle = [...lanes];
  }
}

export interface Attempt {
  /** Set when the callers were told it failed: the producer's tap is closed, nothing more is sent. */
  abandoned: boolean;
  /** The send succeeded, but left the kafkajs producer unusable (a commit repeated outside it). */
  retireProducer: boolean;
}

/** The group's messages per key (library), in order, keys in order of first appearance. */
export function messagesByKey(group: readonly Pending[]): EncodedMessage[][] {
  return groupInOrder(
    group.flatMap((pending) => pending.messages),
    (message) => message.key.toString('latin1'),
  );
}

/** A publish of at most this many messages is small: it may wait to be gathered (gatherWait). */
export const SMALL_PUBLISH_MESSAGES = 50;

/** How long a small publish may wait for a busy lane before it takes an idle one. */
export const GATHER_WAIT_MS = 2;

/**
 * How long the oldest waiting publish should still wait before it takes an idle lane: 0 to take
 * one now.
 *
 * One produce request costs the ingest and the broker about the same CPU whether it carries one
 * op or many, so single-op publishes that each take their own idle lane cost far more per op
 * than the same publishes gathered. A small publish (SMALL_PUBLISH_MESSAGES) arriving while a
 * lane of its pool is busy waits for a lane to come back, which takes it with everything queued
 * behind it as one group (takeGroup), for at most GATHER_WAIT_MS: a slow request still
 * cannot hold the others up longer than that. A large publish at the head of the queue takes an
 * idle lane at once, so large batches keep every lane's parallelism (one queued behind a waiting
 * small publish waits with it). Requests only: a transaction already carries
 * every batch queued behind its first.
 */
export function gatherWait(pool: LanePool, kind: SendKind, now: number): number {
  const oldest = pool.queue[0];
  if (kind !== 'request' || oldest === undefined) return 0;
  if (pool.idle.length === pool.lanes.length) return 0;
  if (oldest.messages.length > SMALL_PUBLISH_MESSAGES) return 0;
  return Math.max(0, oldest.queuedAt + GATHER_WAIT_MS - now);
}

/**
 * kafkajs groups a request's messages per partition in time quadratic in their number, so a
 * produce request gathers batches only while they hold at most this many messages together.
 */
export const MAX_MESSAGES_PER_GATHERED_REQUEST = 1000;

/**
 * The next batches to send together, the oldest first.
 *
 * A transaction carries the oldest batch plus the ones behind it while they fit in one record
 * batch: one transaction's overhead for many small batches.
 *
 * A single produce request carries the oldest batch plus the waiting ones whose partition has
 * the same leader (`brokerOf`; undefined while unknown: such a batch goes alone), while all fit
 * in one record batch and MAX_MESSAGES_PER_GATHERED_REQUEST. The request holds one record batch
 * per partition, which the broker appends as a unit, so every batch stays all or nothing (those
 * of one partition are appended, or refused, together). One broker, because kafkajs sends a
 * request spanning several as one request per broker, and retries them in ways that can append
 * a record batch twice (see OperationProducer.sendTransaction). The scan stops at the first
 * batch of that broker that does not fit, so the batches of a library keep their order.
 */
export function takeGroup(
  pool: LanePool,
  kind: SendKind,
  maxRecordBatchBytes: number,
  brokerOf: (pending: Pending) => number | undefined,
): Pending[] {
  const group = [pool.queue.shift() as Pending];
  let bytes = group[0].bytes;
  if (kind === 'transaction') {
    while (pool.queue.length > 0 && bytes + pool.queue[0].bytes <= maxRecordBatchBytes) {
      const next = pool.queue.shift() as Pending;
      bytes += next.bytes;
      group.push(next);
    }
    return group;
  }
  const broker = brokerOf(group[0]);
  if (broker === undefined) return group;
  let messages = group[0].messages.length;
  // Skipped batches (other brokers) are passed over at most this often, bounding the scan.
  let at = 0;
  while (at < pool.queue.length && at < MAX_MESSAGES_PER_GATHERED_REQUEST) {
    const next = pool.queue[at];
    if (brokerOf(next) !== broker) {
      at++;
      continue;
    }
    // Every batch of a partition shares its record batch: the whole group must fit in one.
    const nextBytes = bytes + next.bytes - RECORD_BATCH_OVERHEAD;
    const nextMessages = messages + next.messages.length;
    if (nextBytes > maxRecordBatchBytes || nextMessages > MAX_MESSAGES_PER_GATHERED_REQUEST) break;
    pool.queue.splice(at, 1);
    group.push(next);
    bytes = nextBytes;
    messages = nextMessages;
  }
  return group;
}
