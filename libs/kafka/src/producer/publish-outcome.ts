/*
 * Pure rules for what OperationProducer may tell a caller when a send fails: whether the batch is
 * known not to be stored (an honest "not accepted"), or its outcome is unknown and the producer
 * must keep asking (same producer id and sequence, or the same EndTxn) until the broker says.
 */

/** Kafka API keys of the requests that can store a batch. */
export const API_KEY_PRODUCE = 0;
export const API_KEY_END_TXN = 26;

/**
 * The API key of an encoded Kafka request (int32 size, int16 api key, ...), or undefined for
 * bytes too short to be one. kafkajs writes every request with one socket write.
 */
export function requestApiKey(chunk: Uint8Array): number | undefined {
  if (chunk.byteLength < 6) return undefined;
  return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).readInt16BE(4);
}

/** The fields of an EndTxn request (v0-v3, non-flexible) needed to send it again. */
export interface EndTxnRequest {
  transactionalId: string;
  producerId: bigint;
  producerEpoch: number;
  commit: boolean;
}

/** Decodes an encoded EndTxn request; undefined if the bytes are not one. */
export function parseEndTxnRequest(chunk: Uint8Array): EndTxnRequest | undefined {
  const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  try {
    if (requestApiKey(bytes) !== API_KEY_END_TXN) return undefined;
    const version = bytes.readInt16BE(6);
    if (version > 3) return undefined; // flexible versions (4+) use compact strings
    // size, api key, version, correlation id, then the client id (nullable string).
    let at = 12;
    const clientIdLength = bytes.readInt16BE(at);
    at += 2 + Math.max(clientIdLength, 0);
    const idLength = bytes.readInt16BE(at);
    at += 2;
    if (idLength < 0 || at + idLength + 11 > bytes.length) return undefined;
    const transactionalId = bytes.toString('utf8', at, at + idLength);
    at += idLength;
    const producerId = bytes.readBigInt64BE(at);
    const producerEpoch = bytes.readInt16BE(at + 8);
    const commit = bytes.readInt8(at + 10) !== 0;
    return { transactionalId, producerId, producerEpoch, commit };
  } catch {
    return undefined;
  }
}

/**
 * Produce error codes that mean the broker refused the record batch before appending it
 * (CORRUPT_MESSAGE, MESSAGE_TOO_LARGE, RECORD_LIST_TOO_LARGE, NOT_ENOUGH_REPLICAS,
 * INVALID_REQUIRED_ACKS, TOPIC_AUTHORIZATION_FAILED, INVALID_TIMESTAMP, INVALID_RECORD). Not
 * among them: REQUEST_TIMED_OUT and NOT_ENOUGH_REPLICAS_AFTER_APPEND, which leave the batch in
 * the leader's log, where it may still become committed; and NOT_LEADER_OR_FOLLOWER and
 * UNKNOWN_TOPIC_OR_PARTITION, which a broker also answers for a batch it appended and was
 * waiting to see replicated when it lost the partition (the new leader may have the batch).
 */
const REFUSED_BEFORE_APPEND = new Set([2, 10, 18, 19, 21, 29, 32, 87]);

export type ProduceAnswer = 'appended' | 'refused' | 'unknown';

/** What a produce response's per-partition error codes say about its record batches. */
export function produceAnswer(errorCodes: readonly number[] | undefined): ProduceAnswer {
  if (errorCodes === undefined || errorCodes.length === 0) return 'unknown';
  if (errorCodes.every((code) => code === 0)) return 'appended';
  if (errorCodes.every((code) => REFUSED_BEFORE_APPEND.has(code))) return 'refused';
  return 'unknown';
}

/**
 * The partition error codes of a Produce response body (after the correlation id), versions
 * 0-7 (kafkajs' range); undefined for other versions or bytes that do not parse.
 */
export function produceResponseErrorCodes(body: Buffer, version: number): number[] | undefined {
  if (version < 0 || version > 7) return undefined;
  const partitionBytes = 4 + 2 + 8 + (version >= 2 ? 8 : 0) + (version >= 5 ? 8 : 0);
  try {
    const codes: number[] = [];
    let at = 0;
    const topics = body.readInt32BE(at);
    at += 4;
    for (let t = 0; t < topics; t++) {
      at += 2 + body.readInt16BE(at);
      const partitions = body.readInt32BE(at);
      at += 4;
      for (let p = 0; p < partitions; p++) {
        if (at + partitionBytes > body.length) return undefined;
        codes.push(body.readInt16BE(at + 4));
        at += partitionBytes;
      }
    }
    return codes;
  } catch {
    return undefined;
  }
}

/**
 * What one producer has written to its sockets and what the produce requests among it were
 * answered, plus the switch that cuts the producer off. Every request passes through a
 * connection's write() synchronously as it is written, so checking what was written and
 * closing the tap happen in one step: after close(), nothing more reaches any broker.
 */
export class RequestTap {
  /** Produce requests written during the current send. */
  produces = 0;
  /** Of those, the ones the broker answered with a refusal before the append. */
  refusedProduces = 0;
  /** EndTxn requests with committed = true written during the current send. */
  commits = 0;
  lastCommit: EndTxnRequest | undefined;
  private closedFlag = false;

  get closed(): boolean {
    return this.closedFlag;
  }

  close(): void {
    this.closedFlag = true;
  }

  /** Starts counting for a new send (a producer sends one batch or transaction at a time). */
  beginSend(): void {
    this.produces = 0;
    this.refusedProduces = 0;
    this.commits = 0;
    this.lastCommit = undefined;
  }

  /** The tap of one socket (correlation ids and response framing are per connection). */
  connection(): TappedConnection {
    return new TappedConnection(this);
  }

  /** @internal */
  wrote(apiKey: number | undefined, chunk: Uint8Array): void {
    if (apiKey === API_KEY_PRODUCE) this.produces++;
    else if (apiKey === API_KEY_END_TXN) {
      const request = parseEndTxnRequest(chunk);
      if (request?.commit) {
        this.commits++;
        this.lastCommit = request;
      }
    }
  }
}

/** One socket's requests and responses, as seen by its producer's tap. */
export class TappedConnection {
  /** Produce requests awaiting their answer: correlation id -> api version. */
  private readonly awaiting = new Map<number, number>();
  private readonly head = Buffer.alloc(8);
  private headFilled = 0;
  private skip = 0;
  private body: Buffer | null = null;
  private bodyFilled = 0;
  private bodyVersion = 0;

  constructor(private readonly tap: RequestTap) {}

  /** Records a request about to be written; false if it must not be written (tap closed). */
  write(chunk: Uint8Array): boolean {
    if (this.tap.closed) return false;
    const apiKey = requestApiKey(chunk);
    if (apiKey === API_KEY_PRODUCE && chunk.byteLength >= 12) {
      const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      this.awaiting.set(bytes.readInt32BE(8), bytes.readInt16BE(6));
    }
    this.tap.wrote(apiKey, chunk);
    return true;
  }

  /** Follows the response stream (size-prefixed frames) to find the produce answers. */
  read(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - at);
        this.skip -= n;
        at += n;
      } else if (this.body !== null) {
        const n = Math.min(this.body.length - this.bodyFilled, chunk.length - at);
        chunk.copy(this.body, this.bodyFilled, at, at + n);
        this.bodyFilled += n;
        at += n;
        if (this.bodyFilled === this.body.length) this.answered();
      } else {
        const n = Math.min(8 - this.headFilled, chunk.length - at);
        chunk.copy(this.head, this.headFilled, at, at + n);
        this.headFilled += n;
        at += n;
        if (this.headFilled === 8) this.startFrame();
      }
    }
  }

  private startFrame(): void {
    this.headFilled = 0;
    const rest = Math.max(0, this.head.readInt32BE(0) - 4);
    const correlationId = this.head.readInt32BE(4);
    const version = this.awaiting.get(correlationId);
    if (version === undefined) {
      this.skip = rest;
      return;
    }
    this.awaiting.delete(correlationId);
    this.body = Buffer.alloc(rest);
    this.bodyFilled = 0;
    this.bodyVersion = version;
    if (rest === 0) this.answered();
  }

  private answered(): void {
    const body = this.body as Buffer;
    this.body = null;
    const answer = produceAnswer(produceResponseErrorCodes(body, this.bodyVersion));
    if (answer === 'refused' && !this.tap.closed) this.tap.refusedProduces++;
  }
}

/**
 * Whether a send may still be abandoned (and its callers told "not accepted") at the publish
 * deadline: only while nothing that could store it has been written. A single request is past
 * that point once a produce request of it was written that the broker did not refuse before
 * the append; a transaction once its commit was written (its record batches alone are never
 * visible to read_committed readers, and the transaction is aborted or fenced afterwards).
 */
export function mayAbandon(
  kind: 'request' | 'transaction',
  written: { produces: number; refusedProduces: number; commits: number },
): boolean {
  return kind === 'request' ? written.produces === written.refusedProduces : written.commits === 0;
}

export type FailureOutcome = 'not-stored' | 'unknown';

/**
 * A failed single produce request (kafkajs gave up, its own retries included). Not stored if
 * every produce request written for it was refused before the append (or none was written);
 * otherwise (no answer, REQUEST_TIMED_OUT, NOT_ENOUGH_REPLICAS_AFTER_APPEND, ...) unknown.
 */
export function requestFailureOutcome(written: {
  produces: number;
  refusedProduces: number;
}): FailureOutcome {
  return written.produces === written.refusedProduces ? 'not-stored' : 'unknown';
}

/**
 * EndTxn(commit) answers meaning the transaction did not commit and never will: it was aborted
 * (by its timeout, or fenced), or the coordinator does not know it. Kafka answers a repeated
 * commit of a committed transaction with no error, and CONCURRENT_TRANSACTIONS while a commit
 * or abort is being completed.
 */
const NOT_COMMITTED = new Set([
  'INVALID_PRODUCER_EPOCH',
  'INVALID_PRODUCER_ID_MAPPING',
  'INVALID_TXN_STATE',
  'PRODUCER_FENCED',
]);

export type CommitFailureOutcome = 'not-committed' | 'unknown';

/**
 * A failed EndTxn(commit). Not committed if it was never written, or the coordinator refused it
 * for good; anything else (no answer, coordinator moved or busy, CONCURRENT_TRANSACTIONS) is
 * unknown, and the same commit must be sent again until the coordinator answers for good.
 */
export function commitFailureOutcome(
  commitsWritten: number,
  errorTypes: readonly string[],
): CommitFailureOutcome {
  if (commitsWritten === 0) return 'not-committed';
  return errorTypes.some((type) => NOT_COMMITTED.has(type)) ? 'not-committed' : 'unknown';
}

/** Backoff between attempts to learn an outcome: 100 ms doubling to 1 s. */
export function outcomeRetryDelay(attempt: number): number {
  return Math.min(100 * 2 ** Math.max(0, attempt), 1000);
}
