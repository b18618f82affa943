import { randomUUID } from 'node:crypto';
import { ConfigResourceTypes, Kafka, logLevel } from 'kafkajs';
import {
  OperationProducer,
  type OperationProducerOptions,
  type PublishResult,
  RECORD_BATCH_OVERHEAD,
  type SendInfo,
  partitionForLibrary,
  recordBytes,
} from '@sync/kafka';
import { canonicalJson, defaultSchema, validateBatch } from '@sync/protocol';
import { TopicReader, tagCreates, waitFor } from './ingest-fixtures';
import { KafkaProxy } from './support/kafka-proxy';
import {
  type TestTopics,
  createTestTopics,
  deleteTestTopics,
  eventually,
  kafkaBrokers,
} from './support/test-env';

const PARTITIONS = 3;

function producer(
  topic: string,
  options: Partial<OperationProducerOptions> & { brokers?: string[] } = {},
): OperationProducer {
  return new OperationProducer({
    client: {
      clientId: 'ingest-producer-test',
      brokers: options.brokers ?? kafkaBrokers(),
      logLevel: logLevel.NOTHING,
      connectionTimeout: 1000,
      // Bounded, so that a producer discarded mid-retry stops soon after the test.
      retry: { initialRetryTime: 100, retries: 3, maxRetryTime: 500 },
    },
    topic,
    transactionalIdPrefix: `test-producer-${randomUUID().slice(0, 8)}`,
    ...options,
  });
}

function validOps(count: number) {
  return validateBatch(tagCreates(count), defaultSchema()).ops;
}

/**
 * Every publish's ops are at the offsets it reported: the first and last exactly, all of them
 * in order in between, on the library's partition.
 */
function expectAtReportedOffsets(
  reader: TopicReader,
  libraryId: string,
  ops: ReturnType<typeof validOps>,
  result: PublishResult,
): void {
  const values = ops.map((op) => canonicalJson(op));
  const mine = new Set(values);
  const inRange = reader.messages.filter(
    (m) =>
      m.partition === result.partition &&
      BigInt(m.offset) >= BigInt(result.firstOffset) &&
      BigInt(m.offset) <= BigInt(result.lastOffset),
  );
  expect(result.partition).toBe(partitionForLibrary(libraryId, PARTITIONS));
  expect(result.count).toBe(ops.length);
  expect(inRange[0]).toMatchObject({ offset: result.firstOffset, value: values[0] });
  expect(inRange[inRange.length - 1]).toMatchObject({
    offset: result.lastOffset,
    value: values[values.length - 1],
  });
  expect(inRange.filter((m) => mine.has(m.value)).map((m) => m.value)).toEqual(values);
  // One record batch in one request: nothing else can lie between.
  if (result.kind === 'request') expect(inRange.map((m) => m.value)).toEqual(values);
  for (const m of inRange.filter((x) => mine.has(x.value))) expect(m.key).toBe(libraryId);
}

describe('OperationProducer against the real broker', () => {
  let topic: string;
  let reader: TopicReader;
  /** This file's topics, deleted once the clients on them are closed. */
  const created: TestTopics[] = [];

  beforeAll(async () => {
    const topics = await createTestTopics('ingest-producer', PARTITIONS);
    created.push(topics);
    topic = topics.operationsTopic;
    reader = await TopicReader.start(topic, 'read_committed');
  });

  afterAll(async () => {
    await reader?.stop();
    await Promise.all(created.map((topics) => deleteTestTopics(topics)));
  });

  const variants = [
    { mode: 'transactional', maxRecordBatchBytes: 8192 },
    { mode: 'single-request', maxRecordBatchBytes: 1_000_000 },
    // Batches over 4 KB go in transactions, the others as single requests.
    { mode: 'single-request', maxRecordBatchBytes: 4096 },
  ] as const;

  for (const { mode, maxRecordBatchBytes } of variants) {
    it(`${mode} (record batches <= ${maxRecordBatchBytes} bytes): concurrent publishes of many libraries land whole, in order, at the reported offsets`, async () => {
      const sends: SendInfo[] = [];
      const publisher = producer(topic, {
        mode,
        producers: 2,
        maxRecordBatchBytes,
        onSend: (send) => sends.push(send),
      });
      try {
        const libraries = Array.from({ length: 5 }, () => randomUUID());
        const jobs = Array.from({ length: 40 }, (_, i) => ({
          libraryId: libraries[i % libraries.length],
          ops: validOps(1 + ((i * 7) % 60)),
        }));
        const results = await Promise.all(
          jobs.map((job) => publisher.publish(job.libraryId, job.ops)),
        );
        const total = jobs.reduce((sum, job) => sum + job.ops.length, 0);
        await waitFor(() => {
          const seen = new Set(reader.messages.map((m) => m.value));
          return jobs.every((job) => job.ops.every((op) => seen.has(canonicalJson(op))))
            ? true
            : undefined;
        });
        jobs.forEach((job, i) =>
          expectAtReportedOffsets(reader, job.libraryId, job.ops, results[i]),
        );
        expect(sends.every((send) => send.ok)).toBe(true);
        expect(sends.reduce((sum, send) => sum + send.messages, 0)).toBe(total);
        const transactions = sends.filter((send) => send.kind === 'transaction');
        const requests = sends.filter((send) => send.kind === 'request');
        if (mode === 'transactional') {
          expect(requests).toHaveLength(0);
          // 40 publishes on 2 producers: waiting publishes went out together.
          expect(transactions.length).toBeLessThan(jobs.length);
        } else if (maxRecordBatchBytes === 4096) {
          expect(requests.length).toBeGreaterThan(0);
          expect(transactions.length).toBeGreaterThan(0);
          jobs.forEach((job, i) => {
            const bytes = job.ops.reduce(
              (sum, op) => sum + recordBytes(job.libraryId, canonicalJson(op)),
              RECORD_BATCH_OVERHEAD,
            );
            expect(results[i].kind).toBe(bytes > 4096 ? 'transaction' : 'request');
          });
        } else {
          expect(transactions).toHaveLength(0);
          // 40 publishes on 2 producers: waiting publishes went out together (one broker).
          expect(requests.length).toBeLessThan(jobs.length);
        }
      } finally {
        await publisher.close();
      }
    });
  }

  it('single request: small publishes made while a lane is busy wait for it and go out together, though other lanes are idle', async () => {
    const sends: SendInfo[] = [];
    const publisher = producer(topic, { producers: 4, onSend: (send) => sends.push(send) });
    try {
      const libraries = Array.from({ length: 5 }, () => randomUUID());
      // Learns the partitions' leaders (a batch of unknown leader is never gathered).
      await publisher.publish(libraries[0], validOps(1));
      sends.length = 0;
      const jobs = Array.from({ length: 10 }, (_, i) => ({
        libraryId: libraries[i % libraries.length],
        ops: validOps(1 + (i % 3)),
      }));
      const results = await Promise.all(
        jobs.map((job) => publisher.publish(job.libraryId, job.ops)),
      );
      jobs.forEach((job, i) =>
        expect(results[i]).toMatchObject({ kind: 'request', count: job.ops.length }),
      );
      expect(sends.every((send) => send.ok)).toBe(true);
      expect(sends.reduce((sum, send) => sum + send.batches, 0)).toBe(jobs.length);
      // The first takes an idle lane; the nine made while it is busy wait for a lane to come
      // back (or 2 ms) and share one request per leader. Each taking an idle lane, the first
      // four would go alone and the other six after them: at least five requests.
      expect(sends.length).toBeLessThanOrEqual(3);
    } finally {
      await publisher.close();
    }
  });

  it('single request: a batch whose answer is lost is confirmed once the broker is reachable again, at the offsets of its one copy', async () => {
    const proxy = await KafkaProxy.start(kafkaBrokers()[0]);
    const publisher = producer(topic, {
      mode: 'single-request',
      producers: 1,
      publishTimeoutMs: 2000,
      publishOutcomeTimeoutMs: 30_000,
      brokers: [proxy.address],
    });
    const uncommitted = await TopicReader.start(topic, 'read_uncommitted');
    try {
      const libraryId = randomUUID();
      await publisher.publish(libraryId, validOps(1));
      // The broker appends the batch; its answer is dropped and the connection cut.
      let cut = false;
      proxy.onProduce(() => {
        cut = true;
        return 'cut-response';
      });
      const lost = validOps(300);
      const started = Date.now();
      const publishing = publisher.publish(libraryId, lost);
      await waitFor(() => (cut ? true : undefined));
      // Well past the publish timeout: the outcome is unknown, so the publish must still wait.
      await new Promise((resolve) => setTimeout(resolve, 3000));
      proxy.onProduce(null);
      await proxy.restore();

      // The same request (same producer id and sequence) is sent again: the broker recognises
      // the batch it already has and answers with that append's offsets.
      const result = await publishing;
      expect(Date.now() - started).toBeGreaterThan(3000);
      await waitFor(() =>
        uncommitted.messages.some((m) => m.offset === result.lastOffset && m.key === libraryId)
          ? true
          : undefined,
      );
      expectAtReportedOffsets(uncommitted, libraryId, lost, result);
      const lostValues = new Set(lost.map((op) => canonicalJson(op)));
      expect(uncommitted.messages.filter((m) => lostValues.has(m.value))).toHaveLength(lost.length);
    } finally {
      await uncommitted.stop();
      await publisher.close();
      await proxy.close();
    }
  });

  it('transaction: a commit whose answer is lost is sent again and confirmed, not reported as failed', async () => {
    const END_TXN = 26;
    const proxy = await KafkaProxy.start(kafkaBrokers()[0]);
    const publisher = producer(topic, {
      mode: 'transactional',
      producers: 1,
      publishTimeoutMs: 2000,
      publishOutcomeTimeoutMs: 30_000,
      brokers: [proxy.address],
    });
    try {
      const libraryId = randomUUID();
      await publisher.publish(libraryId, validOps(1));
      // The coordinator gets the commit; its answer is dropped and the connection cut.
      let cut = false;
      proxy.onProduce(() => {
        cut = true;
        return 'cut-response';
      }, END_TXN);
      const ops = validOps(30);
      const started = Date.now();
      const publishing = publisher.publish(libraryId, ops);
      await waitFor(() => (cut ? true : undefined));
      // Past the publish timeout: the commit may have happened, so the publish must still wait.
      await new Promise((resolve) => setTimeout(resolve, 3000));
      proxy.onProduce(null);
      await proxy.restore();

      const result = await publishing;
      expect(Date.now() - started).toBeGreaterThan(3000);
      expect(result.kind).toBe('transaction');
      await waitFor(() =>
        reader.messages.some((m) => m.offset === result.lastOffset && m.key === libraryId)
          ? true
          : undefined,
      );
      expectAtReportedOffsets(reader, libraryId, ops, result);
      // The one producer (its kafkajs state still waiting for the lost answer) was replaced.
      const next = validOps(2);
      const nextResult = await publisher.publish(libraryId, next);
      await waitFor(() =>
        reader.messages.some((m) => m.offset === nextResult.lastOffset && m.key === libraryId)
          ? true
          : undefined,
      );
      expectAtReportedOffsets(reader, libraryId, next, nextResult);
    } finally {
      await publisher.close();
      await proxy.close();
    }
  });

  it('single request: a batch whose outcome stays unknown past the outcome deadline fails as "unknown" and is not sent again', async () => {
    const proxy = await KafkaProxy.start(kafkaBrokers()[0]);
    const publisher = producer(topic, {
      mode: 'single-request',
      producers: 1,
      publishTimeoutMs: 1000,
      publishOutcomeTimeoutMs: 3000,
      brokers: [proxy.address],
    });
    const uncommitted = await TopicReader.start(topic, 'read_uncommitted');
    try {
      const libraryId = randomUUID();
      await publisher.publish(libraryId, validOps(1));
      // The request is cut before the broker sees it, and the broker stays unreachable.
      proxy.onProduce(() => 'cut-request');
      const unknown = validOps(20);
      const started = Date.now();
      await expect(publisher.publish(libraryId, unknown)).rejects.toMatchObject({
        name: 'PublishError',
        reason: 'unknown',
      });
      expect(Date.now() - started).toBeGreaterThanOrEqual(2900);
      proxy.onProduce(null);
      await proxy.restore();
      const later = validOps(2);
      const result = await eventually(
        () => publisher.publish(libraryId, later).catch(() => undefined),
        20_000,
        200,
      );
      await waitFor(() =>
        uncommitted.messages.some((m) => m.offset === result.lastOffset && m.key === libraryId)
          ? true
          : undefined,
      );
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const unknownValues = new Set(unknown.map((op) => canonicalJson(op)));
      expect(uncommitted.messages.filter((m) => unknownValues.has(m.value))).toEqual([]);
    } finally {
      await uncommitted.stop();
      await publisher.close();
      await proxy.close();
    }
  });

  it('single request: a batch the broker refuses before appending it fails at once, not after the outcome deadline', async () => {
    const refused = await createTestTopics('ingest-refused', 1);
    created.push(refused);
    const small = refused.operationsTopic;
    const admin = new Kafka({
      clientId: 'ingest-producer-test',
      brokers: kafkaBrokers(),
      logLevel: logLevel.NOTHING,
    }).admin();
    await admin.connect();
    try {
      await admin.alterConfigs({
        validateOnly: false,
        resources: [
          {
            type: ConfigResourceTypes.TOPIC,
            name: small,
            configEntries: [{ name: 'max.message.bytes', value: '4096' }],
          },
        ],
      });
    } finally {
      await admin.disconnect();
    }
    const publisher = producer(small, {
      mode: 'single-request',
      producers: 1,
      publishTimeoutMs: 5000,
      publishOutcomeTimeoutMs: 60_000,
    });
    try {
      const started = Date.now();
      // ~25 KB in one record batch: the broker answers MESSAGE_TOO_LARGE without appending it,
      // which proves the batch is not stored although its produce request was written.
      await expect(publisher.publish(randomUUID(), validOps(100))).rejects.toMatchObject({
        name: 'PublishError',
        reason: 'too-large',
      });
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await publisher.close();
    }
  });

  it('single request: a batch abandoned at its outcome deadline does not land later, when the broker is back', async () => {
    const proxy = await KafkaProxy.start(kafkaBrokers()[0]);
    const publisher = producer(topic, {
      mode: 'single-request',
      producers: 1,
      publishTimeoutMs: 1500,
      publishOutcomeTimeoutMs: 3000,
      brokers: [proxy.address],
    });
    const uncommitted = await TopicReader.start(topic, 'read_uncommitted');
    try {
      const libraryId = randomUUID();
      await publisher.publish(libraryId, validOps(1));
      // The produce request goes into a connection that never answers (kafkajs reconnects and,
      // knowing the broker's API versions already, writes it at once): it may have reached the
      // broker, so the publish fails as unknown at the outcome deadline...
      await proxy.cut('blackhole');
      const abandoned = validOps(20);
      await expect(publisher.publish(libraryId, abandoned)).rejects.toMatchObject({
        reason: 'unknown',
      });
      // ...and when the broker is reachable again, kafkajs' retry of it must not get through.
      await proxy.restore();
      const later = validOps(2);
      const result = await eventually(
        () => publisher.publish(libraryId, later).catch(() => undefined),
        20_000,
        200,
      );
      await waitFor(() =>
        uncommitted.messages.some((m) => m.offset === result.lastOffset && m.key === libraryId)
          ? true
          : undefined,
      );
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const abandonedValues = new Set(abandoned.map((op) => canonicalJson(op)));
      expect(uncommitted.messages.filter((m) => abandonedValues.has(m.value))).toEqual([]);
    } finally {
      await uncommitted.stop();
      await publisher.close();
      await proxy.close();
    }
  });
});
