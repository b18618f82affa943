import fc from 'fast-check';
import {
  API_KEY_END_TXN,
  API_KEY_PRODUCE,
  RequestTap,
  commitFailureOutcome,
  mayAbandon,
  outcomeRetryDelay,
  parseEndTxnRequest,
  produceAnswer,
  produceResponseErrorCodes,
  requestApiKey,
  requestFailureOutcome,
} from './publish-outcome';

/** A request as kafkajs encodes it: size, api key, version, correlation id, client id, body. */
function encodeRequest(apiKey: number, version: number, clientId: string, body: Buffer): Buffer {
  const client = Buffer.from(clientId);
  const header = Buffer.alloc(10);
  header.writeInt16BE(apiKey, 0);
  header.writeInt16BE(version, 2);
  header.writeInt32BE(7, 4);
  header.writeInt16BE(client.length, 8);
  const payload = Buffer.concat([header, client, body]);
  const size = Buffer.alloc(4);
  size.writeInt32BE(payload.length);
  return Buffer.concat([size, payload]);
}

function endTxnBody(transactionalId: string, producerId: bigint, epoch: number, commit: boolean) {
  const id = Buffer.from(transactionalId);
  const body = Buffer.alloc(2 + id.length + 11);
  body.writeInt16BE(id.length, 0);
  id.copy(body, 2);
  body.writeBigInt64BE(producerId, 2 + id.length);
  body.writeInt16BE(epoch, 10 + id.length);
  body.writeInt8(commit ? 1 : 0, 12 + id.length);
  return body;
}

describe('requestApiKey and parseEndTxnRequest', () => {
  it('reads back any EndTxn request, and nothing from other requests or short bytes', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 40 }),
        fc.string({ minLength: 1, maxLength: 60 }),
        fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }),
        fc.integer({ min: 0, max: 32767 }),
        fc.boolean(),
        fc.integer({ min: 0, max: 3 }),
        (clientId, transactionalId, producerId, epoch, commit, version) => {
          const request = encodeRequest(
            API_KEY_END_TXN,
            version,
            clientId,
            endTxnBody(transactionalId, producerId, epoch, commit),
          );
          expect(requestApiKey(request)).toBe(API_KEY_END_TXN);
          expect(parseEndTxnRequest(request)).toEqual({
            transactionalId,
            producerId,
            producerEpoch: epoch,
            commit,
          });
        },
      ),
    );
    const produce = encodeRequest(API_KEY_PRODUCE, 7, 'c', Buffer.alloc(30));
    expect(requestApiKey(produce)).toBe(API_KEY_PRODUCE);
    expect(parseEndTxnRequest(produce)).toBeUndefined();
    expect(requestApiKey(Buffer.alloc(5))).toBeUndefined();
    // Flexible versions and truncated bodies are not guessed at.
    const body = endTxnBody('t', 1n, 0, true);
    expect(parseEndTxnRequest(encodeRequest(API_KEY_END_TXN, 4, 'c', body))).toBeUndefined();
    expect(
      parseEndTxnRequest(encodeRequest(API_KEY_END_TXN, 1, 'c', body.subarray(0, 8))),
    ).toBeUndefined();
  });
});

/** A produce request (the tap reads its header only) with the given correlation id. */
function produceRequest(correlationId: number, version = 7): Buffer {
  const request = encodeRequest(API_KEY_PRODUCE, version, 'c', Buffer.alloc(30));
  request.writeInt32BE(correlationId, 8);
  return request;
}

/** A size-prefixed response frame: correlation id, then the body. */
function responseFrame(correlationId: number, body: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeInt32BE(body.length + 4, 0);
  head.writeInt32BE(correlationId, 4);
  return Buffer.concat([head, body]);
}

/** A Produce response body (v5-v7 layout) for one topic with these partition error codes. */
function produceResponseBody(errorCodes: number[]): Buffer {
  const topic = Buffer.from('ops');
  const parts = errorCodes.map((code, partition) => {
    const entry = Buffer.alloc(4 + 2 + 8 + 8 + 8);
    entry.writeInt32BE(partition, 0);
    entry.writeInt16BE(code, 4);
    entry.writeBigInt64BE(BigInt(100 + partition), 6);
    entry.writeBigInt64BE(-1n, 14);
    entry.writeBigInt64BE(0n, 22);
    return entry;
  });
  const head = Buffer.alloc(4 + 2);
  head.writeInt32BE(1, 0);
  head.writeInt16BE(topic.length, 4);
  const count = Buffer.alloc(4);
  count.writeInt32BE(parts.length);
  return Buffer.concat([head, topic, count, ...parts, Buffer.alloc(4)]);
}

/** Splits bytes into chunks at the given cut points (as a socket may deliver them). */
function chunked(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((x, y) => x - y);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const point of [...points, bytes.length]) {
    if (point > from) chunks.push(bytes.subarray(from, point));
    from = Math.max(from, point);
  }
  return chunks;
}

describe('produceResponseErrorCodes and produceAnswer', () => {
  it('reads the partition error codes of every layout kafkajs uses', () => {
    expect(produceResponseErrorCodes(produceResponseBody([0, 19]), 7)).toEqual([0, 19]);
    expect(produceResponseErrorCodes(produceResponseBody([7]), 5)).toEqual([7]);
    expect(produceResponseErrorCodes(produceResponseBody([0]), 8)).toBeUndefined();
    expect(produceResponseErrorCodes(Buffer.alloc(3), 7)).toBeUndefined();
  });

  it('tells appended, refused before the append, and unknown apart', () => {
    expect(produceAnswer([0])).toBe('appended');
    // NOT_ENOUGH_REPLICAS, MESSAGE_TOO_LARGE, RECORD_LIST_TOO_LARGE: never appended.
    for (const code of [19, 10, 18]) expect(produceAnswer([code])).toBe('refused');
    // REQUEST_TIMED_OUT, NOT_ENOUGH_REPLICAS_AFTER_APPEND: in the leader's log, maybe committed;
    // NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION: also the answer of a leader that lost
    // the partition while waiting for replicas to copy an appended batch.
    for (const code of [7, 20, 6, 3]) expect(produceAnswer([code])).toBe('unknown');
    expect(produceAnswer([0, 19])).toBe('unknown');
    expect(produceAnswer(undefined)).toBe('unknown');
  });
});

describe('RequestTap', () => {
  const commit = encodeRequest(API_KEY_END_TXN, 1, 'c', endTxnBody('tx-1', 42n, 3, true));
  const abort = encodeRequest(API_KEY_END_TXN, 1, 'c', endTxnBody('tx-1', 42n, 3, false));
  const metadata = encodeRequest(3, 5, 'c', Buffer.alloc(4));

  it('counts produce requests and commits of the current send, not aborts or other requests', () => {
    const tap = new RequestTap();
    const connection = tap.connection();
    for (const chunk of [metadata, produceRequest(1), abort, produceRequest(2), commit]) {
      expect(connection.write(chunk)).toBe(true);
    }
    expect(tap.produces).toBe(2);
    expect(tap.commits).toBe(1);
    expect(tap.lastCommit).toEqual({
      transactionalId: 'tx-1',
      producerId: 42n,
      producerEpoch: 3,
      commit: true,
    });
    tap.beginSend();
    expect([tap.produces, tap.refusedProduces, tap.commits, tap.lastCommit]).toEqual([
      0,
      0,
      0,
      undefined,
    ]);
  });

  it('counts the produce requests refused before the append, however the responses are chunked', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(0, 19, 7, 6, 10, 20), { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(2000), { maxLength: 12 }),
        (codes, cuts) => {
          const tap = new RequestTap();
          const connection = tap.connection();
          const frames: Buffer[] = [];
          codes.forEach((code, i) => {
            connection.write(produceRequest(10 + i));
            // Other responses (metadata) interleave with the produce answers.
            frames.push(responseFrame(1000 + i, Buffer.alloc(i * 7)));
            frames.push(responseFrame(10 + i, produceResponseBody([code])));
          });
          for (const chunk of chunked(Buffer.concat(frames), cuts)) connection.read(chunk);
          expect(tap.produces).toBe(codes.length);
          expect(tap.refusedProduces).toBe(codes.filter((c) => c === 19 || c === 10).length);
        },
      ),
    );
  });

  it('ignores answers to requests of other connections', () => {
    const tap = new RequestTap();
    const mine = tap.connection();
    const other = tap.connection();
    mine.write(produceRequest(5));
    other.read(responseFrame(5, produceResponseBody([19])));
    expect(tap.refusedProduces).toBe(0);
  });

  it('refuses every write once closed, and counts none of them', () => {
    const tap = new RequestTap();
    const connection = tap.connection();
    tap.close();
    expect(tap.closed).toBe(true);
    for (const chunk of [metadata, produceRequest(1), commit]) {
      expect(connection.write(chunk)).toBe(false);
    }
    expect([tap.produces, tap.commits]).toEqual([0, 0]);
  });
});

describe('mayAbandon', () => {
  it('a single request only while every produce request written was refused', () => {
    expect(mayAbandon('request', { produces: 0, refusedProduces: 0, commits: 0 })).toBe(true);
    expect(mayAbandon('request', { produces: 2, refusedProduces: 2, commits: 0 })).toBe(true);
    expect(mayAbandon('request', { produces: 1, refusedProduces: 0, commits: 0 })).toBe(false);
    expect(mayAbandon('request', { produces: 3, refusedProduces: 2, commits: 0 })).toBe(false);
  });

  it('a transaction until its commit is written, whatever record batches went out', () => {
    expect(mayAbandon('transaction', { produces: 5, refusedProduces: 0, commits: 0 })).toBe(true);
    expect(mayAbandon('transaction', { produces: 5, refusedProduces: 0, commits: 1 })).toBe(false);
  });
});

describe('requestFailureOutcome', () => {
  it('is "not stored" exactly when every produce request written was refused before the append', () => {
    fc.assert(
      fc.property(fc.nat(20), fc.nat(20), (refused, more) => {
        const produces = refused + more;
        expect(requestFailureOutcome({ produces, refusedProduces: refused })).toBe(
          more === 0 ? 'not-stored' : 'unknown',
        );
      }),
    );
  });
});

describe('commitFailureOutcome', () => {
  it('is "not committed" when no commit was written', () => {
    expect(commitFailureOutcome(0, [])).toBe('not-committed');
    expect(commitFailureOutcome(0, ['REQUEST_TIMED_OUT'])).toBe('not-committed');
  });

  it('is "not committed" when the coordinator refused it for good', () => {
    for (const type of ['INVALID_TXN_STATE', 'INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED']) {
      expect(commitFailureOutcome(1, [type])).toBe('not-committed');
    }
  });

  it('is unknown without an answer, or while the coordinator is moving or busy', () => {
    for (const types of [
      [],
      ['CONCURRENT_TRANSACTIONS'],
      ['NOT_COORDINATOR_FOR_GROUP'],
      ['GROUP_COORDINATOR_NOT_AVAILABLE'],
      ['REQUEST_TIMED_OUT'],
    ]) {
      expect(commitFailureOutcome(1, types)).toBe('unknown');
    }
  });
});

describe('outcomeRetryDelay', () => {
  it('starts at 100 ms, doubles, and stays at most 1 s', () => {
    expect([0, 1, 2, 3, 4, 50].map(outcomeRetryDelay)).toEqual([100, 200, 400, 800, 1000, 1000]);
  });
});
