import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { KafkaConfig, Producer, RecordMetadata } from 'kafkajs';
import type { Operation } from '@sync/protocol';
import { repeatCommit } from './commit-repeater';
import { linearlyGrouped } from './kafkajs-internals';
import {
  type Attempt,
  type EncodedMessage,
  Lane,
  LanePool,
  type Pending,
  messagesByKey,
  gatherWait,
  takeGroup,
} from './lanes';
import { type OperationMessage, operationMessages } from './operation-messages';
import { LaneProducers } from './lane-producers';
import { PartitionLeaders, SpansBrokersError } from './partition-leaders';
import { awaitOutcome } from './publish-deadline';
import {
  DeadlineExceeded,
  OutcomeUnknown,
  causedBy,
  describeError,
  errorTypes,
  toPublishError,
} from './publish-errors';
import {
  type RequestTap,
  commitFailureOutcome,
  outcomeRetryDelay,
  requestFailureOutcome,
} from './publish-outcome';
import {
  RECORD_BATCH_OVERHEAD,
  RecordTooLargeError,
  assignOffsets,
  groupInOrder,
  recordBytes,
  splitIntoRecordBatches,
} from './publish-plan';
import {
  DEFAULT_MAX_RECORD_BATCH_BYTES,
  DEFAULT_PRODUCER_LANES,
  DEFAULT_PUBLISH_OUTCOME_TIMEOUT_MS,
  DEFAULT_PUBLISH_TIMEOUT_MS,
  DEFAULT_TRANSACTION_TIMEOUT_MS,
  type OperationProducerOptions,
  PublishError,
  type PublishMode,
  type PublishResult,
  type SendInfo,
  type SendKind,
} from './publish-types';

/**
 * kafkajs groups a request's messages per partition in time quadratic in their number
 * (2000: ~4 ms, 10000: ~90 ms of CPU), so transactional sends carry at most this many.
 */
const MAX_MESSAGES_PER_REQUEST = 2000;

/**
 * Publishes a library's ops to the operations topic all or nothing (see PublishMode), with
 * idempotent producers and acks from all in-sync replicas. Up to `producers` sends of each kind
 * are in flight at once, so unrelated libraries do not queue behind each other (a small publish
 * waits at most GATHER_WAIT_MS for a busy one, to share its next request: gatherWait), and every
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
  private readonly requests: LanePool | null;
  private readonly transactions: LanePool;
  /** The partition kafkajs' partitioner chose for each message key (set while sending). */
  private readonly partitions = new WeakMap<Buffer, number>();
  /** Where each partition leads, for gathering one broker's batches into one request. */
  private readonly leaders = new PartitionLeaders();
  private readonly lanes: LaneProducers;
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
    this.requests = this.mode === 'single-request' ? new LanePool(lanes('request')) : null;
    this.transactions = new LanePool(lanes('transaction'));
    this.lanes = new LaneProducers({
      client: this.client,
      partitions: this.partitions,
      leaders: this.leaders,
      transactionTimeoutMs: this.transactionTimeoutMs,
      publishTimeoutMs: this.publishTimeoutMs,
      isClosed: () => this.closed,
    });
  }

  /** Connects every producer now instead of on first use; resolves once all tried. */
  async warmUp(): Promise<{ ready: number; errors: string[] }> {
    const results = await Promise.allSettled(this.allLanes().map((l) => this.lanes.connected(l)));
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
    // One key buffer for all: also lets the partitioner hash it once (see keyedPartitioner).
    const keyBuffer = Buffer.from(key);
    const encoded = new Array<EncodedMessage>(messages.length);
    let bytes = RECORD_BATCH_OVERHEAD;
    for (let index = 0; index < messages.length; index++) {
      const value = messages[index].value;
      const size = recordBytes(keyBuffer, value);
      if (size + RECORD_BATCH_OVERHEAD > this.maxRecordBatchBytes) {
        const error = new RecordTooLargeError(index, size, this.maxRecordBatchBytes);
        return Promise.reject(toPublishError(error, this));
      }
      encoded[index] = { key: keyBuffer, value };
      bytes += size;
    }
    const pool =
      this.requests !== null && bytes <= this.maxRecordBatchBytes
        ? this.requests
        : this.transactions;
    return new Promise<PublishResult>((resolve, reject) => {
      const queuedAt = Date.now();
      const pending: Pending = {
        messages: encoded,
        bytes,
        queuedAt,
        deadline: queuedAt + this.publishTimeoutMs,
        timer: undefined,
        resolve,
        reject,
      };
      // Bounds the wait for a free producer; once sending, the send's deadline takes over.
      pending.timer = setTimeout(() => {
        const at = pool.queue.indexOf(pending);
        if (at < 0) return;
        pool.queue.splice(at, 1);
        reject(toPublishError(new DeadlineExceeded(), this));
      }, this.publishTimeoutMs);
      pool.queue.push(pending);
      this.dispatch(pool);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const pool of [this.requests, this.transactions]) {
      clearTimeout(pool?.gatherTimer);
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

  /**
   * Hands waiting batches to idle producers, small ones after gatherWait; `freed`: a lane has
   * just come back, and takes what waits at once (that wait was for it).
   */
  private dispatch(pool: LanePool, freed = false): void {
    while (!this.closed && pool.idle.length > 0 && pool.queue.length > 0) {
      const wait = freed ? 0 : gatherWait(pool, pool.lanes[0].kind, Date.now());
      freed = false;
      if (wait > 0) {
        // One timer per pool: firing early (its publish left meanwhile) only looks again.
        pool.gatherTimer ??= setTimeout(() => {
          pool.gatherTimer = undefined;
          this.dispatch(pool);
        }, wait);
        return;
      }
      const lane = pool.idle.shift() as Lane;
      const group = takeGroup(pool, lane.kind, this.maxRecordBatchBytes, (pending) =>
        this.leaders.leaderOf(pending.messages[0].key),
      );
      for (const pending of group) clearTimeout(pending.timer);
      void this.runGroup(pool, lane, group);
    }
  }

  private async runGroup(pool: LanePool, lane: Lane, group: Pending[]): Promise<void> {
    // Never commit after any member was told it failed: the group shares the earliest deadline.
    const deadline = Math.min(...group.map((pending) => pending.deadline));
    const outcomeDeadline = deadline - this.publishTimeoutMs + this.publishOutcomeTimeoutMs;
    const attempt: Attempt = { abandoned: false, retireProducer: false };
    // Counts what this send writes (a producer created for it starts a fresh tap).
    lane.tap?.beginSend();
    const work =
      lane.kind === 'request'
        ? this.sendRequest(lane, group, attempt)
        : this.sendTransaction(lane, group, attempt);
    try {
      const results = await awaitOutcome(lane, work, attempt, deadline, outcomeDeadline);
      group.forEach((pending, index) => pending.resolve(results[index]));
      this.reportSend(lane.kind, group, true);
      if (attempt.retireProducer) this.lanes.replace(lane, work);
    } catch (error) {
      this.reportSend(lane.kind, group, false);
      this.lanes.replace(lane, work);
      const failure = toPublishError(error, this);
      for (const pending of group) pending.reject(failure);
    } finally {
      pool.idle.push(lane);
      this.dispatch(pool, true);
    }
  }

  private async sendRequest(
    lane: Lane,
    group: Pending[],
    attempt: Attempt,
  ): Promise<PublishResult[]> {
    const producer = await this.lanes.connected(lane);
    const tap = lane.tap as RequestTap;
    // One request, unless its partitions turn out to have moved to several leaders: then one
    // request per leader, in turn (see PartitionLeaders).
    const requests = [group.length === 1 ? group[0].messages : group.flatMap((p) => p.messages)];
    const answers: RecordMetadata[][] = [];
    for (let round = 0; answers.length < requests.length;) {
      if (attempt.abandoned) throw new DeadlineExceeded();
      const messages = requests[answers.length];
      try {
        this.leaders.startSend(messages[0]);
        // Partitions of one leader: kafkajs builds one record batch per partition in one
        // Produce request. Repeated after an unknown outcome, it carries the same producer id
        // and sequences: a broker that has a record batch answers with the offsets of that
        // first append instead of appending it again (also when sent again in smaller requests:
        // kafkajs rewinds a failed request's sequences, and a partition's messages stay whole).
        answers.push(
          await producer.send({
            topic: this.topic,
            acks: -1,
            timeout: this.publishTimeoutMs,
            messages: linearlyGrouped(messages),
          }),
        );
        round = 0;
      } catch (error) {
        if (attempt.abandoned) throw error;
        if (causedBy(error, SpansBrokersError)) {
          // Nothing of it was written this time: send it again as one request per leader.
          const byLeader = groupInOrder(messages, (m) => this.leaders.leaderOf(m.key));
          requests.splice(answers.length, 1, ...byLeader);
          continue;
        }
        // Not stored only if every produce request of this send was refused (so none of the
        // earlier requests of a split send was stored either).
        if (requestFailureOutcome(tap) === 'not-stored') throw error;
        // Closed while the outcome is unknown: it can no longer be learned.
        if (this.closed) throw new OutcomeUnknown();
        await sleep(outcomeRetryDelay(round++));
      }
    }
    return this.results('request', group, requests, answers);
  }

  private async sendTransaction(
    lane: Lane,
    group: Pending[],
    attempt: Attempt,
  ): Promise<PublishResult[]> {
    const producer = await this.lanes.connected(lane);
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
            messages: linearlyGrouped(request),
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
    await repeatCommit(lane.kafka, request, attempt, () => this.closed);
    // kafkajs still waits for its own commit's answer: its producer cannot begin another
    // transaction, so it is replaced once this send is done.
    attempt.retireProducer = true;
  }

  private results(
    kind: SendKind,
    group: Pending[],
    requests: EncodedMessage[][],
    answers: RecordMetadata[][],
  ): PublishResult[] {
    const offsets = assignOffsets(
      requests,
      answers,
      (message) => message.key,
      (key) => {
        const partition = this.partitions.get(key);
        if (partition === undefined) throw new Error('message was not partitioned');
        return partition;
      },
    );
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
}

function positive(name: string, value: number | undefined, fallback: number): number {
  const result = value ?? fallback;
  if (!Number.isSafeInteger(result) || result <= 0) {
    throw new RangeError(`${name} must be a positive integer: ${result}`);
  }
  return result;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
