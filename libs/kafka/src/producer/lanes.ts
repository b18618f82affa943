import type { Kafka, Message, Producer } from 'kafkajs';
import type { RequestTap } from './publish-outcome';
import type { PublishError, PublishResult, SendKind } from './publish-types';

/** One kafkajs message, with its key and value already encoded. */
export type EncodedMessage = Message & { key: Buffer; value: Buffer };

export interface Pending {
  messages: EncodedMessage[];
  bytes: number;
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
  const byKey = new Map<string, EncodedMessage[]>();
  for (const pending of group) {
    const key = pending.messages[0].key.toString('latin1');
    const list = byKey.get(key);
    if (list === undefined) byKey.set(key, pending.messages.slice());
    else for (const message of pending.messages) list.push(message);
  }
  return [...byKey.values()];
}

/**
 * The next batches to send together. A single produce request carries one batch, so that it
 * is atomic on its own. A transaction carries the oldest batch plus the ones behind it while
 * they fit in one record batch: one transaction's overhead for many small batches.
 */
export function takeGroup(pool: LanePool, kind: SendKind, maxRecordBatchBytes: number): Pending[] {
  const group = [pool.queue.shift() as Pending];
  if (kind === 'request') return group;
  let bytes = group[0].bytes;
  while (pool.queue.length > 0 && bytes + pool.queue[0].bytes <= maxRecordBatchBytes) {
    const next = pool.queue.shift() as Pending;
    bytes += next.bytes;
    group.push(next);
  }
  return group;
}
