import { randomUUID } from 'node:crypto';
import { Socket, connect as netConnect, isIP } from 'node:net';
import { hostname } from 'node:os';
import { connect as tlsConnect } from 'node:tls';
import {
  type ICustomPartitioner,
  type ISocketFactory,
  Kafka,
  type KafkaConfig,
  type Message,
  Partitioners,
  type Producer,
  type RecordMetadata,
  type RetryOptions,
} from 'kafkajs';
import { type Operation, canonicalJson, normalizeUuid } from '@sync/protocol';
import {
  type EndTxnRequest,
  RequestTap,
  commitFailureOutcome,
  mayAbandon,
  outcomeRetryDelay,
  requestFailureOutcome,
} from './publish-outcome';
import {
  RECORD_BATCH_OVERHEAD,
  RecordTooLargeError,
  assignOffsets,
  recordBytes,
  splitIntoRecordBatches,
} from './publish-plan';
import {
  TRANSACTION_COORDINATOR,
  clusterFactory,
  coordinatorClient,
} from './transaction-coordinator';

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
/**
 * kafkajs groups a request's messages per partition in time quadratic in their number
 * (2000: ~4 ms, 10000: ~90 ms of CPU), so transactional sends carry at most this many.
 */
const MAX_MESSAGES_PER_REQUEST = 2000;
const KEEP_ALIVE_DELAY_MS = 60_000;

/**
 * Retries of a send: a short first backoff, because a transactional producer's next
 * AddPartitionsToTxn answers CONCURRENT_TRANSACTIONS until the previous commit's markers are
 * written (a few ms), and kafkajs' default 300 ms first retry would cap a producer at a few
 * transactions per second; and only as many retries as fit in the publish timeout, since a
 * publish is abandoned at its deadline anyway.
 */
function producerRetry(publishTimeoutMs: number): RetryOptions {
  const initialRetryTime = 2;
  const maxRetryTime = 1000;
  let retries = 0;
  for (let waited = 0, next = initialRetryTime; waited < publishTimeoutMs; retries++) {
    waited += next;
    next = Math.min(next * 2, maxRetryTime);
  }
  return { initialRetryTime, maxRetryTime, retries };
}

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

export interface OperationMessage {
  key: string;
  value: string;
}

/** The message key of a library: its id in lowercase canonical form. */
export function libraryKey(libraryId: string): string {
  const key = normalizeUuid(libraryId);
  if (key === null) throw new TypeError(`library id must be a UUID: ${JSON.stringify(libraryId)}`);
  return key;
}

/** The wire form of ops (contract section 6): key = library id, value = canonical JSON. */
export function operationMessages(
  libraryId: string,
  ops: readonly Operation[],
): OperationMessage[] {
  const key = libraryKey(libraryId);
  return ops.map((op) => ({ key, value: canonicalJson(op) }));
}

class DeadlineExceeded extends Error {
  override name = 'DeadlineExceeded';
}

class OutcomeUnknown extends Error {
  override name = 'OutcomeUnknown';
}

/** One kafkajs message, with its key and value already encoded. */
type EncodedMessage = Message & { key: Buffer; value: Buffer };

interface Pending {
  messages: EncodedMessage[];
  bytes: number;
  deadline: number;
  timer: NodeJS.Timeout | undefined;
  resolve(result: PublishResult): void;
  reject(error: PublishError): void;
}

/** One producer slot: the producer in use, replaced whenever it fails. */
class Lane {
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
class Pool {
  readonly idle: Lane[];
  readonly queue: Pending[] = [];

  constructor(readonly lanes: Lane[]) {
    this.idle = [...lanes];
  }
}

interface Attempt {
  /** Set when the callers were told it failed: the producer's tap is closed, nothing more is sent. */
  abandoned: boolean;
  /** The send succeeded, but left the kafkajs producer unusable (a commit repeated outside it). */
  retireProducer: boolean;
}

/**
 * Publishes a library's ops to the operations topic all or nothing (see PublishMode), with
 * idempotent producers and acks from all in-sync replicas. Up to `producers` sends of each kind
 * are in flight at once, so unrelated libraries do not queue behind each other, and every
 * publish is bounded by publishTimeoutMs. Producers connect lazily and are replaced after any
 * failure (fresh producer id or epoch, which also fences a failed transaction), so a broker that
 * comes back is used again without restarting anything.
 *
 * Consumers must read with isolation read_committed (kafkajs' default) whenever transactions
 * may be used: always in `transactional` mode, for oversized batches in `single-request` mode.
 */
export class OperationProducer {
  readonly topic: string;
  readonly mode: PublishMode;
  readonly publishTimeoutMs: number;
  readonly publishOutcomeTimeoutMs: number;
  readonly maxRecordBatchBytes: number;
  private readonly transactionTimeoutMs: number;
  private readonly onSend: ((send: SendInfo) => void) | undefined;
  private readonly client: KafkaConfig;
  private readonly requests: Pool | null;
  private readonly transactions: Pool;
  /** The partition kafkajs' partitioner chose for each message (set while sending). */
  private readonly partitions = new WeakMap<Message, number>();
  private closed = false;

  constructor(options: OperationProducerOptions) {
    this.topic = options.topic;
    this.mode = options.mode ?? 'single-request';
    this.publishTimeoutMs = positive(
      'publishTimeoutMs',
      options.publishTimeoutMs,
      DEFAULT_PUBLISH_TIMEOUT_MS,
    );
    this.publishOutcomeTimeoutMs = positive(
      'publishOutcomeTimeoutMs',
      options.publishOutcomeTimeoutMs,
      Math.max(DEFAULT_PUBLISH_OUTCOME_TIMEOUT_MS, this.publishTimeoutMs),
    );
    if (this.publishOutcomeTimeoutMs < this.publishTimeoutMs) {
      throw new RangeError('publishOutcomeTimeoutMs must be at least publishTimeoutMs');
    }
    this.transactionTimeoutMs = positive(
      'transactionTimeoutMs',
      options.transactionTimeoutMs,
      DEFAULT_TRANSACTION_TIMEOUT_MS,
    );
    this.maxRecordBatchBytes = positive(
      'maxRecordBatchBytes',
      options.maxRecordBatchBytes,
      DEFAULT_MAX_RECORD_BATCH_BYTES,
    );
    const count = positive('producers', options.producers, DEFAULT_PRODUCER_LANES);
    if (this.transactionTimeoutMs <= this.publishTimeoutMs) {
      throw new RangeError('transactionTimeoutMs must be longer than publishTimeoutMs');
    }
    this.onSend = options.onSend;
    this.client = options.client;
    const prefix =
      options.transactionalIdPrefix ?? `sync-ingest-${hostname()}-${randomUUID().slice(0, 8)}`;
    const lanes = (kind: SendKind) =>
      Array.from(
        { length: count },
        (_, i) => new Lane(kind, kind === 'transaction' ? `${prefix}-${i}` : undefined),
      );
    this.requests = this.mode === 'single-request' ? new Pool(lanes('request')) : null;
    this.transactions = new Pool(lanes('transaction'));
  }

  /** Connects every producer now instead of on first use; resolves once all tried. */
  async warmUp(): Promise<{ ready: number; errors: string[] }> {
    const results = await Promise.allSettled(this.allLanes().map((l) => this.laneProducer(l)));
    const errors = results
      .filter((r): r is PromiseRejectedResult => r.status === 'rejected')
      .map((r) => describeError(r.reason));
    return { ready: results.length - errors.length, errors };
  }

  /** Publishes ops of one library, in order; see PublishResult and PublishError. */
  publish(libraryId: string, ops: readonly Operation[]): Promise<PublishResult> {
    return this.publishMessages(operationMessages(libraryId, ops));
  }

  /** Like publish, for messages built with operationMessages (all with the same key). */
  publishMessages(messages: readonly OperationMessage[]): Promise<PublishResult> {
    if (messages.length === 0) return Promise.reject(new RangeError('nothing to publish'));
    const key = messages[0].key;
    if (messages.some((message) => message.key !== key)) {
      return Promise.reject(
        new RangeError('all messages of a publish must have the same key (one library)'),
      );
    }
    if (this.closed) return Promise.reject(new PublishError('closed', 'the producer is closed'));
    // One key buffer for all: also lets the partitioner hash it once (see partitioner()).
    const keyBuffer = Buffer.from(key);
    const encoded = messages.map((m) => ({ key: keyBuffer, value: Buffer.from(m.value) }));
    let bytes = RECORD_BATCH_OVERHEAD;
    for (let index = 0; index < encoded.length; index++) {
      const size = recordBytes(keyBuffer, encoded[index].value);
      if (size + RECORD_BATCH_OVERHEAD > this.maxRecordBatchBytes) {
        const error = new RecordTooLargeError(index, size, this.maxRecordBatchBytes);
        return Promise.reject(this.toPublishError(error));
      }
      bytes += size;
    }
    const pool =
      this.requests !== null && bytes <= this.maxRecordBatchBytes
        ? this.requests
        : this.transactions;
    return new Promise<PublishResult>((resolve, reject) => {
      const pending: Pending = {
        messages: encoded,
        bytes,
        deadline: Date.now() + this.publishTimeoutMs,
        timer: undefined,
        resolve,
        reject,
      };
      // Bounds the wait for a free producer; once sending, the send's deadline takes over.
      pending.timer = setTimeout(() => {
        const at = pool.queue.indexOf(pending);
        if (at < 0) return;
        pool.queue.splice(at, 1);
        reject(this.toPublishError(new DeadlineExceeded()));
      }, this.publishTimeoutMs);
      pool.queue.push(pending);
      this.dispatch(pool);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const pool of [this.requests, this.transactions]) {
      for (const pending of pool?.queue.splice(0) ?? []) {
        clearTimeout(pending.timer);
        pending.reject(new PublishError('closed', 'the producer is closed'));
      }
    }
    await Promise.allSettled(
      this.allLanes().map(async (lane) => {
        const producer = lane.producer;
        lane.producer = null;
        lane.ready = null;
        await producer?.disconnect();
        lane.tap?.close();
      }),
    );
  }

  private allLanes(): Lane[] {
    return [...(this.requests?.lanes ?? []), ...this.transactions.lanes];
  }

  /** Hands waiting batches to idle producers. */
  private dispatch(pool: Pool): void {
    while (!this.closed && pool.idle.length > 0 && pool.queue.length > 0) {
      const lane = pool.idle.shift() as Lane;
      const group = this.takeGroup(pool, lane.kind);
      for (const pending of group) clearTimeout(pending.timer);
      void this.runGroup(pool, lane, group);
    }
  }

  /**
   * The next batches to send together. A single produce request carries one batch, so that it
   * is atomic on its own. A transaction carries the oldest batch plus the ones behind it while
   * they fit in one record batch: one transaction's overhead for many small batches.
   */
  private takeGroup(pool: Pool, kind: SendKind): Pending[] {
    const group = [pool.queue.shift() as Pending];
    if (kind === 'request') return group;
    let bytes = group[0].bytes;
    while (pool.queue.length > 0 && bytes + pool.queue[0].bytes <= this.maxRecordBatchBytes) {
      const next = pool.queue.shift() as Pending;
      bytes += next.bytes;
      group.push(next);
    }
    return group;
  }

  private async runGroup(pool: Pool, lane: Lane, group: Pending[]): Promise<void> {
    // Never commit after any member was told it failed: the group shares the earliest deadline.
    const deadline = Math.min(...group.map((pending) => pending.deadline));
    const outcomeDeadline = deadline - this.publishTimeoutMs + this.publishOutcomeTimeoutMs;
    const attempt: Attempt = { abandoned: false, retireProducer: false };
    // Counts what this send writes (a producer created for it starts a fresh tap).
    lane.tap?.beginSend();
    const work =
      lane.kind === 'request'
        ? this.sendRequest(lane, group[0], attempt)
        : this.sendTransaction(lane, group, attempt);
    try {
      const results = await this.awaitOutcome(lane, work, attempt, deadline, outcomeDeadline);
      group.forEach((pending, index) => pending.resolve(results[index]));
      this.reportSend(lane.kind, group, true);
      if (attempt.retireProducer) this.replace(lane, work);
    } catch (error) {
      this.reportSend(lane.kind, group, false);
      this.replace(lane, work);
      const failure = this.toPublishError(error);
      for (const pending of group) pending.reject(failure);
    } finally {
      pool.idle.push(lane);
      this.dispatch(pool);
    }
  }

  /**
   * The send's result, or its failure. At the publish deadline the send is abandoned only if
   * nothing that could store the batch has been written yet (mayAbandon); closing the tap in the
   * same step guarantees nothing is written afterwards, so "not accepted" is then the truth.
   * Otherwise the send goes on learning its outcome until the outcome deadline, and only then
   * is cut off and reported as unknown.
   */
  private awaitOutcome<T>(
    lane: Lane,
    work: Promise<T>,
    attempt: Attempt,
    deadline: number,
    outcomeDeadline: number,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const giveUp = (error: Error) => {
        attempt.abandoned = true;
        lane.tap?.close();
        reject(error);
      };
      const atOutcomeDeadline = () => giveUp(new OutcomeUnknown());
      const atPublishDeadline = () => {
        const tap = lane.tap;
        // A tap closed by close() still tells what was written before.
        if (tap === null || mayAbandon(lane.kind, tap)) {
          giveUp(new DeadlineExceeded());
        } else {
          timer = setTimeout(atOutcomeDeadline, Math.max(0, outcomeDeadline - Date.now()));
        }
      };
      let timer = setTimeout(atPublishDeadline, Math.max(0, deadline - Date.now()));
      work.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error instanceof Error ? error : new Error(String(error)));
        },
      );
    });
  }

  private async sendRequest(
    lane: Lane,
    pending: Pending,
    attempt: Attempt,
  ): Promise<PublishResult[]> {
    const producer = await this.laneProducer(lane);
    const tap = lane.tap as RequestTap;
    for (let round = 0; ; round++) {
      if (attempt.abandoned) throw new DeadlineExceeded();
      try {
        // One key, so one partition: kafkajs builds one record batch for it in one Produce
        // request. Repeated after an unknown outcome, it carries the same producer id and
        // sequence: a broker that has the batch answers with the offsets of that first append
        // instead of appending it again.
        const answer = await producer.send({
          topic: this.topic,
          acks: -1,
          timeout: this.publishTimeoutMs,
          messages: pending.messages,
        });
        return this.results('request', [pending], [pending.messages], [answer]);
      } catch (error) {
        if (attempt.abandoned) throw error;
        if (requestFailureOutcome(tap) === 'not-stored') throw error;
        // Closed while the outcome is unknown: it can no longer be learned.
        if (this.closed) throw new OutcomeUnknown();
        await sleep(outcomeRetryDelay(round));
      }
    }
  }

  private async sendTransaction(
    lane: Lane,
    group: Pending[],
    attempt: Attempt,
  ): Promise<PublishResult[]> {
    const producer = await this.laneProducer(lane);
    if (attempt.abandoned) throw new DeadlineExceeded();
    // One library (so one partition, one broker) per produce request. kafkajs sends a request
    // spanning several brokers as one request per broker, and when one of them fails it retries
    // at once, sending again to a broker whose request is still in flight: those record batches
    // are then appended twice (the retry gets the next sequence numbers) in the same transaction.
    const requests = messagesByKey(group).flatMap((messages) =>
      splitIntoRecordBatches(
        messages,
        (m) => recordBytes(m.key, m.value),
        this.maxRecordBatchBytes,
        MAX_MESSAGES_PER_REQUEST,
      ),
    );
    const transaction = await producer.transaction();
    try {
      const answers: RecordMetadata[][] = [];
      for (const request of requests) {
        if (attempt.abandoned) throw new DeadlineExceeded();
        answers.push(
          await transaction.send({
            topic: this.topic,
            acks: -1,
            timeout: this.publishTimeoutMs,
            messages: request,
          }),
        );
      }
      // Abandoned: the callers were told the batch failed, and the closed tap would refuse the
      // commit anyway.
      if (attempt.abandoned) throw new DeadlineExceeded();
      await this.commit(lane, transaction, attempt);
      return this.results('transaction', group, requests, answers);
    } catch (error) {
      // Ends the transaction now rather than at its timeout, so readers are not held up
      // (isActive() is false once a commit was sent).
      if (!attempt.abandoned && transaction.isActive()) {
        await transaction.abort().catch(() => undefined);
      }
      throw error;
    }
  }

  /**
   * Commits, and learns whether it did: kafkajs sends EndTxn(commit) once, so when its answer
   * is lost or inconclusive the same EndTxn is repeated until the coordinator answers for good.
   * A coordinator answers a repeated commit of a committed transaction with success, and
   * INVALID_TXN_STATE (or a fencing error) once it aborted it.
   */
  private async commit(
    lane: Lane,
    transaction: Awaited<ReturnType<Producer['transaction']>>,
    attempt: Attempt,
  ): Promise<void> {
    const tap = lane.tap as RequestTap;
    try {
      await transaction.commit();
      return;
    } catch (error) {
      if (attempt.abandoned) throw error;
      if (commitFailureOutcome(tap.commits, errorTypes(error)) === 'not-committed') throw error;
    }
    const request = tap.lastCommit;
    if (request === undefined || lane.kafka === null) throw new OutcomeUnknown();
    await this.repeatCommit(lane.kafka, request, attempt);
    // kafkajs still waits for its own commit's answer: its producer cannot begin another
    // transaction, so it is replaced once this send is done.
    attempt.retireProducer = true;
  }

  private async repeatCommit(
    kafka: Kafka,
    request: EndTxnRequest,
    attempt: Attempt,
  ): Promise<void> {
    const cluster = coordinatorClient(kafka);
    try {
      for (let round = 0; !attempt.abandoned; round++) {
        await sleep(outcomeRetryDelay(round));
        if (attempt.abandoned) break;
        try {
          await cluster.connect();
          const coordinator = await cluster.findGroupCoordinator({
            groupId: request.transactionalId,
            coordinatorType: TRANSACTION_COORDINATOR,
          });
          await coordinator.endTxn({
            transactionalId: request.transactionalId,
            producerId: request.producerId.toString(),
            producerEpoch: request.producerEpoch,
            transactionResult: true,
          });
          return;
        } catch (error) {
          if (commitFailureOutcome(1, errorTypes(error)) === 'not-committed') throw error;
          if (this.closed) break;
        }
      }
      throw new OutcomeUnknown();
    } finally {
      await cluster.disconnect().catch(() => undefined);
    }
  }

  private results(
    kind: SendKind,
    group: Pending[],
    requests: EncodedMessage[][],
    answers: RecordMetadata[][],
  ): PublishResult[] {
    const offsets = assignOffsets(requests, answers, (message) => {
      const partition = this.partitions.get(message);
      if (partition === undefined) throw new Error('message was not partitioned');
      return partition;
    });
    return group.map(({ messages }) => {
      const first = offsets.get(messages[0]);
      const last = offsets.get(messages[messages.length - 1]);
      if (first === undefined || last === undefined) throw new Error('no offsets for a batch');
      return {
        topic: this.topic,
        partition: first.partition,
        count: messages.length,
        firstOffset: first.offset.toString(),
        lastOffset: last.offset.toString(),
        kind,
      };
    });
  }

  private reportSend(kind: SendKind, group: Pending[], ok: boolean): void {
    if (this.onSend === undefined) return;
    const messages = group.reduce((sum, pending) => sum + pending.messages.length, 0);
    this.onSend({ kind, batches: group.length, messages, ok });
  }

  /** The lane's connected producer, connecting (and fencing, for transactions) on first use. */
  private laneProducer(lane: Lane): Promise<Producer> {
    if (lane.ready !== null) return lane.ready;
    if (this.closed) return Promise.reject(new PublishError('closed', 'the producer is closed'));
    const producer = (lane.producer ??= this.createProducer(lane));
    const ready = (async () => {
      await producer.connect();
      if (lane.kind === 'transaction') {
        // InitProducerId now: bumps the epoch, which aborts a transaction an earlier holder of
        // this transactional id left open. An empty transaction sends nothing else.
        const transaction = await producer.transaction();
        await transaction.abort();
      }
      return producer;
    })();
    lane.ready = ready;
    ready.catch(() => {
      if (lane.ready !== ready) return;
      lane.ready = null;
      lane.producer = null;
      lane.tap?.close();
      void producer.disconnect().catch(() => undefined);
    });
    return ready;
  }

  /**
   * A new kafkajs producer for the lane, on a client of its own whose every request write goes
   * through the lane's tap: the tap knows whether a produce request or a commit of the current
   * send went out, and once closed, kafkajs' retry loop (which reconnects even a disconnected
   * producer) can no longer reach any broker, so an abandoned send cannot land later.
   */
  private createProducer(lane: Lane): Producer {
    const tap = new RequestTap();
    const sockets = this.client.socketFactory ?? defaultSocketFactory;
    const socketFactory: ISocketFactory = (args) => {
      if (tap.closed) {
        const dead = new Socket();
        setImmediate(() => dead.destroy(new Error('this producer was replaced')));
        return dead;
      }
      const socket = sockets(args);
      const connection = tap.connection();
      // Attached before kafkajs' own listener: a produce answer is counted before kafkajs acts on it.
      socket.on('data', (chunk: Buffer) => connection.read(chunk));
      const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
      socket.write = (chunk: unknown, ...rest: unknown[]) => {
        const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Uint8Array);
        if (connection.write(bytes)) return write(chunk, ...rest);
        socket.destroy(new Error('this producer was replaced'));
        return false;
      };
      return socket;
    };
    const kafka = new Kafka({ ...this.client, socketFactory });
    // Fails now, not when a commit must be repeated, if kafkajs' internals have changed.
    clusterFactory(kafka);
    lane.tap = tap;
    lane.kafka = kafka;
    return kafka.producer({
      createPartitioner: this.partitioner(),
      // Transactions are idempotent by themselves; `idempotent` would also fetch a second,
      // unused producer id on connect.
      idempotent: lane.kind === 'request',
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      transactionalId: lane.transactionalId,
      transactionTimeout: this.transactionTimeoutMs,
      retry: producerRetry(this.publishTimeoutMs),
    });
  }

  /**
   * kafkajs' default (murmur2) partitioner, hashing a run of messages with the same key buffer
   * once instead of per message, and remembering each message's partition for the offsets.
   */
  private partitioner(): ICustomPartitioner {
    const partitions = this.partitions;
    return () => {
      const murmur2 = Partitioners.DefaultPartitioner();
      let lastKey: unknown = null;
      let lastCount = -1;
      let lastPartition = 0;
      return (args) => {
        const { message, partitionMetadata } = args;
        if (message.key !== lastKey || partitionMetadata.length !== lastCount) {
          lastPartition = murmur2(args);
          lastKey = message.key;
          lastCount = partitionMetadata.length;
        }
        partitions.set(message, lastPartition);
        return lastPartition;
      };
    };
  }

  /**
   * Replaces the lane's producer after a failure. Reusing it would be unsafe: kafkajs rewinds
   * the sequence numbers of a failed produce, so if the broker did append it, the next batch of
   * the same length would be taken for its duplicate and silently dropped. A new producer gets a
   * new producer id or epoch (fencing the old transaction) and fresh sequences.
   */
  private replace(lane: Lane, work: Promise<unknown>): void {
    const producer = lane.producer;
    lane.tap?.close();
    lane.producer = null;
    lane.ready = null;
    if (producer !== null) {
      const disconnect = () => void producer.disconnect().catch(() => undefined);
      disconnect();
      work.then(disconnect, disconnect);
    }
    void this.recover(lane);
  }

  /**
   * Re-creates the lane's producer in the background until it connects, so the next publish
   * finds it ready and, for transactions, so its InitProducerId fences the failed producer and
   * aborts the transaction it left open as soon as the broker answers again, instead of holding
   * read_committed readers of that partition until the transaction times out.
   */
  private async recover(lane: Lane): Promise<void> {
    if (lane.recovering) return;
    lane.recovering = true;
    try {
      for (let delay = 200; !this.closed; delay = Math.min(delay * 2, 5000)) {
        try {
          await this.laneProducer(lane);
          return;
        } catch {
          await new Promise((resolve) => setTimeout(resolve, delay).unref());
        }
      }
    } finally {
      lane.recovering = false;
    }
  }

  private toPublishError(error: unknown): PublishError {
    if (error instanceof PublishError) return error;
    if (error instanceof DeadlineExceeded) {
      return new PublishError(
        'timeout',
        `Kafka did not confirm the batch within ${this.publishTimeoutMs} ms`,
        { cause: error },
      );
    }
    if (error instanceof OutcomeUnknown) {
      return new PublishError(
        'unknown',
        `Kafka did not confirm or refuse the batch within ${this.publishOutcomeTimeoutMs} ms after it was sent, so it may have been stored`,
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
        `the broker refused the batch as too large (is the topic's max.message.bytes below ${this.maxRecordBatchBytes}?)`,
        { cause: error },
      );
    }
    return new PublishError('unavailable', `publishing failed: ${describeError(error)}`, {
      cause: error,
    });
  }
}

/** kafkajs' own socket factory (not exported by kafkajs): TCP or TLS with keep-alive. */
const defaultSocketFactory: ISocketFactory = ({ host, port, ssl, onConnect }) => {
  const socket = ssl
    ? tlsConnect({ host, port, ...(isIP(host) ? {} : { servername: host }), ...ssl }, onConnect)
    : netConnect({ host, port }, onConnect);
  socket.setKeepAlive(true, KEEP_ALIVE_DELAY_MS);
  return socket;
};

function positive(name: string, value: number | undefined, fallback: number): number {
  const result = value ?? fallback;
  if (!Number.isSafeInteger(result) || result <= 0) {
    throw new RangeError(`${name} must be a positive integer: ${result}`);
  }
  return result;
}

/** The group's messages per key (library), in order, keys in order of first appearance. */
function messagesByKey(group: readonly Pending[]): EncodedMessage[][] {
  const byKey = new Map<string, EncodedMessage[]>();
  for (const pending of group) {
    const key = pending.messages[0].key.toString('latin1');
    const list = byKey.get(key);
    if (list === undefined) byKey.set(key, pending.messages.slice());
    else for (const message of pending.messages) list.push(message);
  }
  return [...byKey.values()];
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** kafkajs protocol error types along the cause chain. */
function errorTypes(error: unknown): string[] {
  const types: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const type = (current as { type?: unknown }).type;
    if (typeof type === 'string') types.push(type);
    current = current.cause;
  }
  return types;
}

function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? error.cause.message : undefined;
  return cause !== undefined && cause !== error.message
    ? `${error.message} (${cause})`
    : error.message;
}
